"""The orchestrator's fix loop and restart rules on the FakeExecutor: real files and the real applier, scripted
checks (so no cargo), the real openai SDK against the fake OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bridge.config import Settings, load_settings
from bridge.journal import Journal
from bridge.llm import LLMClient
from bridge.models import ChatMessage
from bridge.orchestrator import Orchestrator
from sandbox.fake import FakeExecutor
from sandbox.models import CheckResult, Diagnostic, EnvironmentIssue, TestCase
from tests.support.conversation import Chat
from tests.support.fake_llm import FakeLLM

API_KEY = "xai-TESTKEY-fixloop-0123456789abcdef"
FILES = {
    "Cargo.toml": '[package]\nname = "tiny"\nversion = "0.1.0"\n',
    "src/lib.rs": "pub mod util;\n\npub fn double(x: i64) -> i64 {\n    x * 2\n}\n",
    "src/util.rs": "pub fn helper() -> i64 {\n    21\n}\n",
    "tests/double.rs": "#[test]\nfn doubles() {\n    assert_eq!(tiny::double(21), 42);\n}\n",
}


def diff(old: str, new: str) -> str:
    return f"```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -4 +4 @@\n-{old}\n+{new}\n```\n"


FIRST = diff("    x * 2", "    x + x")
SECOND = diff("    x + x", "    x << 1")
E0308 = Diagnostic(level="error", code="E0308", message="mismatched types", file="src/util.rs", line=2, column=5)
FAILED = CheckResult(kind="degradation", ok=False, diagnostics=[E0308])
FAILED_TEST = CheckResult(
    kind="test", ok=False,
    tests=[TestCase(name="doubles", outcome="failed", message="assertion failed", location="tests/double.rs:3:5")],
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home", llm={"api_key": None})


@pytest.fixture
def fake() -> Iterator[FakeExecutor]:
    executor = FakeExecutor(FILES)
    yield executor
    executor.close()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM(api_key=API_KEY) as server:
        yield server


def orchestrator(settings: Settings, executor: FakeExecutor, llm: FakeLLM | None = None) -> Orchestrator:
    client = None
    if llm is not None:
        client = LLMClient(settings.llm.model_copy(update={"base_url": llm.base_url, "api_key": SecretStr(API_KEY)}))
    return Orchestrator(executor, Journal(settings.home / "journal.db"), settings, client)


def test_chat_mode_counts_the_assistants_patches_then_escalates(settings: Settings, fake: FakeExecutor) -> None:
    fake.script("degradation", FAILED, FAILED, FAILED, FAILED)
    chat = Chat(orchestrator(settings, fake))
    first = chat.say("developer", f"@agent code improvement\n{FIRST}")
    assert first[0].startswith("@assistant ") and "E0308" in first[0] and "0/3" in first[0]
    assert "x * 2" in fake.get_code(path="src/lib.rs").text  # rolled back
    for used in (1, 2):
        again = chat.say("assistant", f"@agent code improvement\n{FIRST}")
        assert again[0].startswith("@assistant ") and f"{used}/3" in again[0]
    last = chat.say("assistant", f"@agent code improvement\n{FIRST}")
    assert last[0].startswith("@dev escalate:") and "after 3 fix attempts" in last[0]
    assert fake.calls.count("apply") == 4 and fake.calls.count("undo") == 4
    assert chat.orchestrator.journal.open_task("123") is None


def test_the_llm_is_shown_the_files_the_failure_names(settings: Settings, fake: FakeExecutor, fake_llm: FakeLLM) -> None:
    """The fix loop gets the CheckResult: the file of its diagnostic (not in the patch) reaches the prompt."""
    fake.script("degradation", FAILED, CheckResult(kind="degradation", ok=True))
    fake_llm.script([FIRST])
    chat = Chat(orchestrator(settings, fake, fake_llm))
    replies = chat.say("developer", f"@agent code improvement\n{FIRST}")
    assert replies[0].startswith("@all Updated src/lib.rs") and "fixed by the LLM on attempt 1" in replies[0]
    prompt = fake_llm.completions[0].prompt
    assert "`src/util.rs`" in prompt and "pub fn helper() -> i64" in prompt  # the diagnostic's file
    assert "`src/lib.rs`" in prompt  # the patched file
    assert "E0308" in prompt


def test_a_failing_test_task_shows_the_failed_tests_file(settings: Settings, fake: FakeExecutor, fake_llm: FakeLLM) -> None:
    fake.script("test", FAILED_TEST)
    fake.script("degradation", CheckResult(kind="degradation", ok=True, tests=[TestCase(name="doubles", outcome="passed")]))
    fake_llm.script([FIRST])
    chat = Chat(orchestrator(settings, fake, fake_llm))
    replies = chat.say("developer", "@agent code test #doubles")
    assert "check test #doubles: FAILED" in replies[0]
    assert replies[1].startswith("@all Updated src/lib.rs")
    assert "assert_eq!(tiny::double(21), 42);" in fake_llm.completions[0].prompt  # tests/double.rs, where it panicked


def test_an_undo_interrupted_by_a_restart_is_not_repeated(settings: Settings, fake: FakeExecutor) -> None:
    chat = Chat(orchestrator(settings, fake))
    chat.say("developer", f"@agent code improvement\n{FIRST}")
    chat.say("developer", f"@agent code improvement\n{SECOND}")
    journal = chat.orchestrator.journal
    message = ChatMessage(id="undo-1", role="developer", text="@agent undo", chat_id="123")
    chat.orchestrator.intake.take(message)
    row = journal.unfinished_commands("123")[0]
    journal.set_stage(row.id, "effect")  # the undo had begun when the bridge was killed
    fake.undo()
    before = fake.calls.count("undo")
    restarted = orchestrator(settings, fake)
    restarted.run_pending("123")
    assert fake.calls.count("undo") == before  # not run a second time
    assert "interrupted by a restart and is not repeated" in journal.pending_replies("123")[-1].text
    assert "x + x" in fake.get_code(path="src/lib.rs").text  # the first patch is still there


UNAVAILABLE = CheckResult(
    kind="degradation", ok=False, tests_run=False,
    diagnostics=[Diagnostic(level="error", message="no matching package named `atty` found")],
    environment=EnvironmentIssue(
        kind="dependency-unavailable", missing=["atty"], looked_in="the registry cache in `/home/dev/.cargo/registry`", at_base=True,
        advice="Provide it offline.",
    ),
)


def test_an_environment_failure_is_not_a_fix_attempt_nor_asked_of_the_assistant(settings: Settings, fake: FakeExecutor) -> None:
    fake.script("degradation", UNAVAILABLE)
    chat = Chat(orchestrator(settings, fake))
    replies = chat.say("developer", f"@agent code improvement\n{FIRST}")
    assert len(replies) == 1 and replies[0].startswith("@dev escalate:")
    assert "`atty`" in replies[0] and "/home/dev/.cargo/registry" in replies[0] and "fails the same way" in replies[0]
    assert "corrected patch" not in replies[0] and "fix attempt" not in replies[0] and "First error" not in replies[0]
    assert "x + x" in fake.get_code(path="src/lib.rs").text  # the patch stays applied
    status = chat.say("developer", "@agent status")[0]
    assert "fix attempts" not in status  # no task was opened


def test_the_llm_fix_loop_stops_at_an_environment_failure(settings: Settings, fake: FakeExecutor, fake_llm: FakeLLM) -> None:
    fake.script("degradation", FAILED, UNAVAILABLE)
    fake_llm.script([diff('    x * 2', '    x << 1')] * 3)
    chat = Chat(orchestrator(settings, fake, fake_llm))
    replies = chat.say("developer", f"@agent code improvement\n{FIRST}")
    assert replies[-1].startswith("@dev escalate:") and "`atty`" in replies[-1]
    assert len(fake_llm.completions) == 1  # no second fix asked for a crate nobody has


def module(name: str, lines: int) -> str:
    return "\n".join(f"pub fn {name}_{i}(v: &[i64]) -> i64 {{ v[{i}] * {i} }}" for i in range(lines)) + "\n"


def test_a_successful_three_file_patch_posts_a_diff_stat_and_hunks_within_the_budget(settings: Settings) -> None:
    files = {"Cargo.toml": FILES["Cargo.toml"], "src/a.rs": module("a", 120), "src/b.rs": module("b", 120), "src/c.rs": module("c", 120)}
    executor = FakeExecutor(files)
    try:
        edits = "".join(
            f"```diff\n--- a/src/{n}.rs\n+++ b/src/{n}.rs\n@@ -61 +61 @@\n-pub fn {n}_60(v: &[i64]) -> i64 {{ v[60] * 60 }}\n"
            f"+pub fn {n}_60(v: &[i64]) -> i64 {{ v[60] * 61 }}\n```\n"
            for n in "abc"
        )
        executor.script("degradation", CheckResult(kind="degradation", ok=True))
        post = Chat(orchestrator(settings, executor)).say("developer", f"@agent code improvement\n{edits}")[0]
    finally:
        executor.close()
    assert post.startswith("@all Updated src/a.rs, src/b.rs, src/c.rs") and len(post) <= 1500, len(post)
    assert "`src/a.rs` +1 −1" in post and "`src/c.rs` +1 −1" in post
    assert "+pub fn a_60(v: &[i64]) -> i64 { v[60] * 61 }" in post  # the changed hunk, not the module
    assert "pub fn a_0(" not in post and "`@agent code get path=src/a.rs`" in post


def test_an_environment_failure_of_an_answer_ends_the_wait_for_the_assistant(settings: Settings, fake: FakeExecutor) -> None:
    fake.script("degradation", FAILED, UNAVAILABLE)
    chat = Chat(orchestrator(settings, fake))
    assert chat.say("developer", f"@agent code improvement\n{FIRST}")[0].startswith("@assistant ")
    answer = chat.say("assistant", f"@agent code improvement\n{FIRST}")
    assert len(answer) == 1 and answer[0].startswith("@dev escalate:") and "`atty`" in answer[0]
    assert chat.orchestrator.journal.waiting_tasks() == []  # no "no corrected patch within 600 s" later
