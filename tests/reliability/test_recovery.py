"""The recovery mechanisms the chaos runs rely on, each shown directly: a half-written patch finished
at start-up, the saved login's cookies masked, strays of a run killed through its pids cgroup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bridge.config import load_settings
from bridge.example import copy_example
from bridge.chat.login_secrets import register_login_secrets
from sandbox import cgroup, proc
from sandbox.local import LocalExecutor
from sandbox.models import FileChange
from sandbox.patch.write import resume_write
from sandbox.redact import redact
from tests.conftest import TEST_IDENTITY

pytestmark = pytest.mark.reliability

needs_pids = pytest.mark.skipif(not cgroup.pids_available(), reason="no writable pids cgroup here")


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.rs").write_text("a1\n")
    (root / "src" / "b.rs").write_text("b1\n")
    return root


CHANGES = [FileChange(path="src/a.rs", before="a1\n", after="a2\n"), FileChange(path="src/b.rs", before="b1\n", after="b2\n")]


def test_a_half_written_patch_is_finished_and_its_staged_files_removed(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "src" / "a.rs").write_text("a2\n")  # the crash came after the first swap
    (root / "src" / ".b.rs.k3j2.tmp").write_text("b2\n")  # and before the second
    assert resume_write(root, CHANGES) == "written"
    assert [(root / c.path).read_text() for c in CHANGES] == ["a2\n", "b2\n"]
    assert not list(root.rglob("*.tmp"))


def test_an_unwritten_or_foreign_state_is_left_alone(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert resume_write(root, CHANGES) == "unwritten"
    assert (root / "src" / "b.rs").read_text() == "b1\n"
    (root / "src" / "a.rs").write_text("a2\n")
    (root / "src" / "b.rs").write_text("edited by someone else\n")
    assert resume_write(root, CHANGES) == "conflict"
    assert (root / "src" / "b.rs").read_text() == "edited by someone else\n"


def test_the_executor_drops_the_record_of_a_patch_that_never_got_written(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "trade_report", TEST_IDENTITY)
    settings = load_settings(home=tmp_path / "home", project=project, llm={"api_key": None})
    executor = LocalExecutor(project, settings.sandbox_config())
    lib = (executor.ws.tree / "src/lib.rs").read_text()
    executor.state.push_patch([FileChange(path="src/lib.rs", before=lib, after=lib + "// x\n")])  # then the crash
    executor.close()
    restarted = LocalExecutor(project, settings.sandbox_config())
    assert restarted.state.patch_count() == 0  # an `undo` now would not trip over a patch that is not there
    assert (restarted.ws.tree / "src/lib.rs").read_text() == lib


def test_the_saved_login_cookies_are_masked_everywhere(tmp_path: Path) -> None:
    cookie = f"sess{uuid.uuid4().hex}"
    state = tmp_path / "home" / "sessions" / "grok.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"cookies": [{"name": "sso", "value": cookie, "domain": "grok.com"}], "origins": []}))
    assert cookie in redact(f"a test printed {cookie}")  # unknown until the bridge loads the login
    register_login_secrets(state)
    assert redact(f"a test printed {cookie}") == "a test printed [redacted]"


@needs_pids
def test_processes_that_leave_the_group_die_with_the_run(tmp_path: Path) -> None:
    marker = f"{uuid.uuid4().int % 10**6 + 10**6}.5"
    script = f"setsid sleep {marker} > /dev/null 2>&1 < /dev/null & echo started"
    result = proc.run(["/bin/sh", "-c", script], cwd=tmp_path, env=proc.clean_env(["PATH"]), timeout=20, output_cap=10_000, max_pids=32)
    assert result.stdout.strip() == "started"
    assert _running(marker) == []  # unisolated, a setsid child escapes the process group, not the cgroup


@needs_pids
def test_a_dead_bridges_groups_are_swept_at_start(tmp_path: Path) -> None:
    parent = cgroup._parent()
    assert parent is not None
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    group = parent / f"run-{dead.pid}-1"
    group.mkdir()
    marker = f"{uuid.uuid4().int % 10**6 + 10**6}.7"
    stray = subprocess.Popen(["/bin/sh", "-c", f"echo $$ > {group / 'cgroup.procs'} && exec sleep {marker}"])
    time.sleep(0.3)
    cgroup._sweep(parent)
    assert stray.wait(10) == -9
    assert not group.exists()


def _running(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return [p for p in found if p != os.getpid()]
