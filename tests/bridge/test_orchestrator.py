"""The orchestrator end to end: real cargo and git on a copy of the example crate, the real openai
SDK over HTTP to a fake OpenAI-compatible server."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import git
import pytest
from loguru import logger

from bridge.config import Settings, load_settings
from bridge.journal import Journal
from bridge.llm import LLMClient
from bridge.orchestrator import Orchestrator
from sandbox.local import LocalExecutor
from tests.support import patches
from tests.support.conversation import Chat
from tests.support.fake_llm import FakeLLM, Outcome

pytestmark = pytest.mark.cargo

GOOD_PATCH = f"```diff\n{patches.GOOD}```\n"
BAD_PATCH = f"```diff\n{patches.BROKEN}```\n"  # E0308: a Weekday where an i64 is expected
NEW_CODE = "date.add_days(-(date.weekday() as i64))"

API_KEY = "xai-TESTKEY-0123456789abcdefghijklmnop"


@pytest.fixture
def settings(tmp_path: Path, crate_copy: Path) -> Settings:
    return load_settings(home=tmp_path / "home", project=crate_copy, llm={"api_key": None})


def make(settings: Settings, llm: LLMClient | None = None) -> Orchestrator:
    executor = LocalExecutor(settings.project, settings.sandbox_config())  # type: ignore[arg-type]
    return Orchestrator(executor, Journal(settings.home / "journal.db"), settings, llm)


def workspace_file(orch: Orchestrator, path: str) -> str:
    return (orch.executor.ws.tree / path).read_text()  # type: ignore[attr-defined]


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM(api_key=API_KEY) as server:
        yield server


def api_orchestrator(settings: Settings, fake: FakeLLM) -> Orchestrator:
    llm_settings = settings.llm.model_copy(update={"base_url": fake.base_url, "max_backoff": 5.0})
    from pydantic import SecretStr

    llm_settings.api_key = SecretStr(API_KEY)
    return make(settings, LLMClient(llm_settings))


def test_seed_workflow_improvement_test_commit(settings: Settings) -> None:
    chat = Chat(make(settings))
    date_id = next(e.file_id for e in chat.orchestrator.executor.files() if e.path == "src/date.rs")

    vibe = chat.say("developer", f"@agent code improvement #2025-07-12 file_id={date_id} [vibe: оптимизировать adjust_to_monday]")
    assert vibe == []  # a vibe is a request to the assistant: MCP stays quiet

    updated = chat.say("assistant", f"Sure.\n\n@agent code improvement #2025-07-12 file_id={date_id}\n{GOOD_PATCH}")
    assert len(updated) == 1
    assert updated[0].startswith("@all Updated src/date.rs")
    assert NEW_CODE in updated[0] and "OK" in updated[0]
    assert NEW_CODE in workspace_file(chat.orchestrator, "src/date.rs")

    again = chat.say("assistant", f"@agent code improvement file_id={date_id}\n{GOOD_PATCH}")
    assert again[0].startswith("Nothing to do:") and "already applied" in again[0]
    assert chat.orchestrator.journal.open_task("123") is None  # a repeat is not a failure to fix

    tested = chat.say("developer", "@agent code test #aggr_trades")
    assert "6 passed, 0 failed" in tested[0]

    committed = chat.say("developer", "@agent commit [msg: Оптимизирована функция]")
    assert committed[0].startswith("Committed ")
    repo = git.Repo(chat.orchestrator.executor.ws.tree)  # type: ignore[attr-defined]
    head = repo.head.commit
    assert head.author.name == "Grok" and head.author.email == "grok@x.ai"
    assert head.committer.name == "Colloqium MCP"
    assert head.message.splitlines()[0] == "From Grok: Оптимизирована функция (chat_id=123)"
    assert "Chat-Id: 123" in head.message and f"Chat-Message-Id: m{chat.count}" in head.message
    # the user's own checkout is never touched
    assert NEW_CODE not in (settings.project / "src/date.rs").read_text()  # type: ignore[operator]


def test_api_mode_second_fix_succeeds_after_a_429(settings: Settings, fake_llm: FakeLLM) -> None:
    fake_llm.script([Outcome.fail(429, "slow down", retry_after="1"), BAD_PATCH, GOOD_PATCH])
    sink = io.StringIO()
    handler = logger.add(sink, level="DEBUG")
    try:
        chat = Chat(api_orchestrator(settings, fake_llm))
        replies = chat.say("developer", f"@agent code improvement file_id=1\n{BAD_PATCH}")
    finally:
        logger.remove(handler)
    assert len(replies) == 1
    assert replies[0].startswith("@all Updated src/date.rs") and "attempt 2" in replies[0]
    assert len(fake_llm.completions) == 3  # a 429, its retry (a bad fix), then the good fix
    assert fake_llm.completions[1].at - fake_llm.completions[0].at >= 1.0  # Retry-After honoured
    assert fake_llm.pending == 0
    assert "E0308" in fake_llm.completions[1].prompt  # the failure summary reached the LLM
    assert all(r.headers.get("authorization") == f"Bearer {API_KEY}" for r in fake_llm.requests)
    task = chat.orchestrator.journal.open_task("123")
    assert task is None
    everything = sink.getvalue() + "".join(replies) + (settings.home / "journal.db").read_bytes().decode("latin-1")
    assert API_KEY not in everything


def test_api_mode_escalates_after_exactly_three_attempts(settings: Settings, fake_llm: FakeLLM) -> None:
    fake_llm.rule = lambda request: BAD_PATCH  # every answer fails to compile
    chat = Chat(api_orchestrator(settings, fake_llm))
    before = workspace_file(chat.orchestrator, "src/date.rs")
    replies = chat.say("developer", f"@agent code improvement\n{BAD_PATCH}")
    assert len(fake_llm.completions) == 3
    assert len(replies) == 1 and replies[0].startswith("@dev escalate:")
    assert "after 3 fix attempts" in replies[0] and "E0308" in replies[0]
    assert workspace_file(chat.orchestrator, "src/date.rs") == before  # every failed patch rolled back


def test_chat_mode_counts_the_assistants_patches_and_escalates_after_three(settings: Settings) -> None:
    chat = Chat(make(settings))
    first = chat.say("developer", f"@agent code improvement\n{BAD_PATCH}")
    assert first[0].startswith("@assistant ") and "E0308" in first[0] and "0/3" in first[0]
    for used in (1, 2):
        again = chat.say("assistant", f"Fixed:\n@agent code improvement\n{BAD_PATCH}")
        assert again[0].startswith("@assistant ") and f"{used}/3" in again[0]
    chat.say("assistant", "Let me think about it.")  # prose without a patch is not an attempt
    last = chat.say("assistant", f"@agent code improvement\n{BAD_PATCH}")
    assert last[0].startswith("@dev escalate:") and "after 3 fix attempts" in last[0]
    assert chat.orchestrator.journal.open_task("123") is None


def test_chat_mode_success_on_the_assistants_fix(settings: Settings) -> None:
    chat = Chat(make(settings))
    chat.say("developer", f"@agent code improvement\n{BAD_PATCH}")
    fixed = chat.say("assistant", f"@agent code improvement\n{GOOD_PATCH}")
    assert fixed[0].startswith("@all Updated src/date.rs") and "fix attempt 1" in fixed[0]


def test_failing_test_starts_a_task_and_escalates_without_answer(settings: Settings) -> None:
    clock = [1000.0]
    orch = make(settings)
    orch.clock = lambda: clock[0]
    chat = Chat(orch)
    tree = orch.executor.ws.tree  # type: ignore[attr-defined]
    path = tree / "src/tests/task/aggr_trades.rs"
    path.write_text(path.read_text().replace("fn aggr_trades_empty_input_gives_no_groups() {", "fn aggr_trades_empty_input_gives_no_groups() {\n        assert_eq!(1, 2);", 1))
    replies = chat.say("developer", "@agent code test #aggr_trades")
    assert "aggr_trades_empty_input_gives_no_groups" in replies[0]
    assert replies[1].startswith("@assistant ")
    clock[0] += settings.chat.answer_timeout + 1
    orch.tick()
    escalated = [r.text for r in orch.journal.pending_replies("123")]
    assert escalated and escalated[0].startswith("@dev escalate:") and "no corrected patch" in escalated[0]


def test_mcp_posts_are_never_executed(settings: Settings) -> None:
    chat = Chat(make(settings))
    help_reply = chat.say("developer", "@agent help")
    assert "code test" in help_reply[0]
    # our own post read back (it quotes commands) runs nothing, even as a user turn
    assert chat.say("developer", help_reply[0]) == []
    assert chat.say("developer", "@agent status\n\n— MCP · Colloqium DevSpace") == []


def test_commit_and_undo_are_developer_only(settings: Settings) -> None:
    chat = Chat(make(settings))
    refused = chat.say("assistant", "@agent commit [msg: sneaky]")
    assert "not allowed for the assistant" in refused[0]
    assert "not allowed for the assistant" in chat.say("assistant", "@agent undo")[0]


def test_loop_guard_pauses_assistant_chains(settings: Settings) -> None:
    chat = Chat(make(settings))
    for _ in range(settings.rules.loop_limit):
        assert "loop guard" not in chat.say("assistant", "@agent status")[0]
    paused = chat.say("assistant", "@agent status")
    assert paused[0].startswith("@dev") and "loop guard" in paused[0]
    chat.say("developer", "go on")
    assert "loop guard" not in chat.say("assistant", "@agent status")[0]


def test_unknown_verb_names_the_closest(settings: Settings) -> None:
    chat = Chat(make(settings))
    reply = chat.say("developer", "@agent code tset #aggr_trades")
    assert "code test" in reply[0]


def test_flood_limit_caps_executions_per_minute(tmp_path: Path, crate_copy: Path) -> None:
    settings = load_settings(home=tmp_path / "home", project=crate_copy, llm={"api_key": None}, rules={"flood_per_minute": 3})
    chat = Chat(make(settings))
    for _ in range(3):
        assert "flood limit" not in chat.say("developer", "@agent status")[0]
    assert "flood limit: 3 commands ran in the last minute" in chat.say("developer", "@agent status")[0]


def test_replies_are_redacted(settings: Settings) -> None:
    orch = make(settings)
    secret = "cookie-value-0123456789abcdef"
    from sandbox.redact import redactor

    redactor.register(secret)
    tree = orch.executor.ws.tree  # type: ignore[attr-defined]
    (tree / "src/secrets.rs").write_text(f'const COOKIE: &str = "{secret}";\nconst KEY: &str = "sk-abcdefghijklmnopqrstuvwxyz012345";\n')
    reply = Chat(orch).say("developer", "@agent code get path=src/secrets.rs")[0]
    assert "const COOKIE" in reply and secret not in reply and "sk-abcdefghijklmnopqrstuvwxyz012345" not in reply
    assert reply.count("[redacted]") == 2
