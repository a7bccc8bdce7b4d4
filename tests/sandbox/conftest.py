"""Shared sandbox fixtures: a throwaway copy of the example crate under git, and stray-process checks."""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from collections.abc import Callable
from pathlib import Path

import git
import pytest

EXAMPLE_CRATE = Path(__file__).resolve().parents[2] / "examples" / "trade_report"
TEST_IDENTITY = git.Actor("DevSpace Tests", "tests@devspace.local")


@pytest.fixture
def crate_copy(tmp_path: Path) -> Path:
    """A copy of examples/trade_report in its own git repository with one commit (never build the original)."""
    assert (EXAMPLE_CRATE / "Cargo.toml").is_file(), f"the example crate is missing at {EXAMPLE_CRATE}"
    dest = tmp_path / "trade_report"
    shutil.copytree(EXAMPLE_CRATE, dest, ignore=shutil.ignore_patterns("target", ".git"))
    repo = git.Repo.init(dest, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", TEST_IDENTITY.name)
        config.set_value("user", "email", TEST_IDENTITY.email)
    repo.git.add(A=True)
    repo.index.commit("Initial import of trade_report", author=TEST_IDENTITY, committer=TEST_IDENTITY)
    repo.close()
    return dest


def _kill_marked(marker: str) -> list[int]:
    """Kill the live processes (other than this one) whose command line holds `marker`; return their pids."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes() and "State:\tZ" not in (entry / "status").read_text():
                pids.append(int(entry.name))
        except OSError:
            continue
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


@pytest.fixture
def sleep_marker() -> str:
    """A `sleep` duration no other process on the machine uses, to find a test's processes by."""
    return f"{uuid.uuid4().int % 10**6 + 10**6}.{uuid.uuid4().int % 1000}"


@pytest.fixture
def reap_marked() -> Callable[[str], list[int]]:
    """Kill and report processes left carrying a marker, so a failing test leaves nothing behind."""
    return _kill_marked
