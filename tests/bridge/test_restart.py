"""Crash safety: a process killed between executing a command and posting its reply."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.config import load_settings
from bridge.journal import Journal
from bridge.models import ChatMessage
from bridge.orchestrator import Orchestrator
from sandbox.local import LocalExecutor
from sandbox.models import ChatLink

pytestmark = pytest.mark.cargo
ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import os, signal, sys
from pathlib import Path
from bridge.config import load_settings
from bridge.wiring import make_orchestrator
from bridge.models import ChatMessage
settings = load_settings(home=Path(sys.argv[1]), project=Path(sys.argv[2]))
orch = make_orchestrator(settings)
orch.handle(ChatMessage(id="m1", role="developer", text="@agent code test #aggr_trades", chat_id="local"))
os.kill(os.getpid(), signal.SIGKILL)  # executed and journaled, never posted
"""


def devspace(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEVSPACE_HOME": str(home), "DEVSPACE_LLM__API_KEY": ""}
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_killed_before_posting_posts_once_and_never_reruns(tmp_path: Path, crate_copy: Path) -> None:
    home = tmp_path / "home"
    child = subprocess.run([sys.executable, "-c", CHILD, str(home), str(crate_copy)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert child.returncode == -9, child.stderr
    logs = list(home.glob("workspaces/*/logs/*-test.log"))
    assert len(logs) == 1  # the test ran once before the kill

    first = devspace(home, "exec", "--project", str(crate_copy), "@agent help")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("check test #aggr_trades: OK") == 1  # the lost reply is posted now, once
    assert "code sandwich" in first.stdout  # and the new command's reply after it
    assert len(list(home.glob("workspaces/*/logs/*-test.log"))) == 1  # the test was not run again

    second = devspace(home, "exec", "--project", str(crate_copy), "@agent status")
    assert "check test #aggr_trades" not in second.stdout  # never posted twice


def test_commit_interrupted_after_git_is_not_repeated(tmp_path: Path, crate_copy: Path) -> None:
    settings = load_settings(home=tmp_path / "home", project=crate_copy)
    executor = LocalExecutor(crate_copy, settings.sandbox_config())
    journal = Journal(settings.home / "journal.db")
    (executor.ws.tree / "NOTES.md").write_text("notes\n")
    msg = ChatMessage(id="c1", role="developer", text="@agent commit [msg: notes]", chat_id="local")
    from bridge.protocol import parse

    journal.record_message(msg, parse(msg).commands)
    row = journal.unfinished_commands("local")[0]
    journal.set_stage(row.id, "committing")
    link = ChatLink(chat_id="local", message_id="c1", url=settings.chat.url)
    executor.commit("notes", settings.identities.identity("developer"), link)  # the effect happened, then the crash
    head = executor.ws.head

    Orchestrator(executor, journal, settings).run_pending("local")  # the restart
    assert executor.ws.head == head  # no second commit
    replies = [r.text for r in journal.pending_replies("local")]
    assert len(replies) == 1 and replies[0].startswith(f"Committed {head[:10]}: From ") and "notes" in replies[0]
