"""The seed's workflow through the orchestrator gives the same replies with the HTTP executor as in-process."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.config import Settings, load_settings
from bridge.journal import Journal
from bridge.models import ChatMessage, Role
from bridge.orchestrator import Orchestrator
from sandbox.client import HttpExecutor
from sandbox.executor import Executor
from sandbox.local import LocalExecutor
from sandbox.operations import FilesRequest, StatusRequest
from sandbox.serving import BackgroundServer
from tests.support import patches

pytestmark = pytest.mark.cargo
CHAT = "123"


def seed_workflow(date_id: int) -> list[tuple[Role, str]]:
    """The seed's conversation, with a failed first patch, a fix, errors and an undo on the way."""
    return [
        ("developer", "@agent code files #*.rs"),
        ("developer", f"@agent code get file_id={date_id}"),
        ("developer", f"@agent code improvement #2025-07-12 file_id={date_id} [vibe: оптимизировать adjust_to_monday]"),
        ("assistant", f"Here it is.\n\n@agent code improvement #2025-07-12 file_id={date_id}\n```diff\n{patches.BROKEN}```"),
        ("assistant", f"Sorry, fixed:\n\n@agent code improvement #2025-07-12 file_id={date_id}\n```diff\n{patches.GOOD}```"),
        ("developer", "@agent code test #aggr_trades"),
        ("developer", "@agent check degradation"),
        ("developer", f"@agent code sandwich file_id={date_id},1"),
        ("developer", "@agent code get file_id=9999"),
        ("developer", "@agent code get path=../../etc/passwd"),
        ("developer", "@agent commit [msg: Оптимизирована функция]"),
        ("developer", "@agent commit [msg: again]"),
        ("developer", "@agent status"),
        ("developer", "@agent undo"),
        ("developer", "@agent check compile"),
    ]


def run(executor: Executor, settings: Settings) -> list[list[str]]:
    """Every message of the workflow in turn; the replies each one produced."""
    orchestrator = Orchestrator(executor, Journal(settings.home / "journal.db"), settings)
    date_id = next(e.file_id for e in executor.run(FilesRequest()) if e.path == "src/date.rs")
    out: list[list[str]] = []
    for number, (role, text) in enumerate(seed_workflow(date_id), 1):
        orchestrator.handle(ChatMessage(id=f"m{number}", role=role, text=text, chat_id=CHAT))
        replies = orchestrator.journal.pending_replies(CHAT)
        for row in replies:
            orchestrator.journal.mark_posted(row.id, None)
        out.append([row.text for row in replies])
    return out


def normalized(replies: list[list[str]], *roots: Path) -> list[list[str]]:
    """Replies without what differs between two runs anyway: temp paths, times, durations, commit ids."""

    def clean(text: str) -> str:
        for root in roots:
            text = text.replace(str(root), "<root>")
        text = re.sub(r"\d{8}-\d{6}-\d{6}", "<time>", text)
        text = re.sub(r"\b\d+(\.\d+)?s\b", "<t>s", text)
        return re.sub(r"\b[0-9a-f]{7,40}\b", "<sha>", text)

    return [[clean(text) for text in step] for step in replies]


def test_seed_workflow_same_replies_local_and_http(
    crate_copy: Path, second_crate: Path, tmp_path: Path, serve: Callable[..., BackgroundServer], token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    here = load_settings(home=tmp_path / "local-home", project=crate_copy, llm={"api_key": None})
    there = load_settings(home=tmp_path / "remote-home", project=second_crate, llm={"api_key": None})

    local = LocalExecutor(crate_copy, here.sandbox_config())
    in_process = run(local, here)

    behind = LocalExecutor(second_crate, there.sandbox_config())
    server = serve(behind)
    remote = HttpExecutor(server.url, token)
    over_http = run(remote, there)

    assert len(in_process) == len(seed_workflow(1))
    roots = (tmp_path / "local-home", tmp_path / "remote-home", crate_copy.parent, second_crate.parent)
    assert normalized(over_http, *roots) == normalized(in_process, *roots)

    # and the workflow did what the seed says, so the comparison is not between two failures
    flat = ["\n".join(step) for step in in_process]
    assert "src/date.rs" in flat[0] and "pub fn adjust_to_monday" in flat[1]
    assert flat[2] == ""  # a vibe: MCP stays quiet
    assert "E0308" in flat[3] and "corrected patch" in flat[3]
    assert "Updated src/date.rs" in flat[4] and "add_days(-(date.weekday() as i64))" in flat[4]
    assert "6 passed, 0 failed" in flat[5]
    assert "0 regressions" in flat[6]
    assert "no file with file_id=9999" in flat[8] and "'..' is not allowed" in flat[9]
    assert flat[10].startswith("Committed ") and "nothing to commit" in flat[11]
    assert "devspace/mcp" in flat[12]
    assert "revert" in flat[13]
    assert remote.run(StatusRequest()) == behind.run(StatusRequest())
