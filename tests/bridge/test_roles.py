"""Agent roles through the API: the orchestrator on the FakeExecutor (real files and the real applier, scripted
checks) and the real openai SDK over HTTP to the OpenAI-compatible servers the tests start."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from bridge import prompts
from bridge.config import ConfigError, Settings, load_settings
from bridge.journal import Journal
from bridge.orchestrator import Orchestrator
from bridge.protocol import arguments, parse
from bridge.protocol.verbs import RoleArguments
from sandbox.fake import FakeExecutor
from sandbox.models import CheckResult, Diagnostic, EnvironmentIssue, TestCase
from tests.support.conversation import Chat
from tests.support.fake_llm import FakeLLM, Outcome, RecordedRequest

API_KEY = "xai-TESTKEY-roles-0123456789abcdef"
OTHER_KEY = "plain-other-vendor-key-7f3a91c2"  # not token-shaped: only its registration masks it
FILES = {
    "Cargo.toml": '[package]\nname = "tiny"\nversion = "0.1.0"\n',
    "src/lib.rs": "pub mod util;\n\npub fn double(x: i64) -> i64 {\n    x * 2\n}\n",
    "src/util.rs": "pub fn helper() -> i64 {\n    21\n}\n",
    "tests/double.rs": "#[test]\nfn doubles() {\n    assert_eq!(tiny::double(21), 42);\n}\n",
}
LIB, DOUBLE_TEST = 2, 4  # file ids: the paths in sorted order
E0308 = Diagnostic(level="error", code="E0308", message="mismatched types", file="src/lib.rs", line=4, column=5)
FAILED = CheckResult(kind="degradation", ok=False, diagnostics=[E0308])
REVIEW = "- `double` overflows for |x| > i64::MAX / 2: use `checked_mul` or document it."


def diff(old: str, new: str, path: str = "src/lib.rs", line: int = 4) -> str:
    return f"```diff\n--- a/{path}\n+++ b/{path}\n@@ -{line} +{line} @@\n-{old}\n+{new}\n```\n"


SHIFT = "Doubles with a shift.\n\n" + diff("    x * 2", "    x << 1")
ADD = "Doubles by adding.\n\n" + diff("    x * 2", "    x + x")
NEW_TEST = """Covers negative numbers.

```diff
--- a/tests/double.rs
+++ b/tests/double.rs
@@ -3,2 +3,7 @@
     assert_eq!(tiny::double(21), 42);
 }
+
+#[test]
+fn doubles_negative() {
+    assert_eq!(tiny::double(-4), -8);
+}
```
"""


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def fake() -> Iterator[FakeExecutor]:
    executor = FakeExecutor(FILES)
    yield executor
    executor.close()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    sink = io.StringIO()
    handler = logger.add(sink, level="DEBUG")
    yield sink
    logger.remove(handler)


def make_settings(tmp_path: Path, server: FakeLLM | None, **overrides: Any) -> Settings:
    """Settings whose `llm` is `server` (None: no key); `llm={…}` overrides its keys."""
    api = {"api_key": API_KEY if server is not None else None, "model": "grok-test", "timeout": 5, "max_retries": 1, "max_backoff": 2}
    if server is not None:
        api["base_url"] = server.base_url
    return load_settings(home=tmp_path / "home", llm={**api, **overrides.pop("llm", {})}, **overrides)


def make_chat(settings: Settings, executor: FakeExecutor, chat_id: str = "123") -> Chat:
    """A conversation in chat mode for fixes (no LLM client): the roles alone reach the API."""
    return Chat(Orchestrator(executor, Journal(settings.home / "journal.db"), settings), chat_id)


@pytest.fixture
def settings(tmp_path: Path, llm: FakeLLM) -> Settings:
    return make_settings(tmp_path, llm)


def parts(request: RecordedRequest) -> tuple[str, str]:
    """A role call's system prompt and its one user message."""
    system, user = request.messages
    assert (system["role"], user["role"]) == ("system", "user")
    return system["content"], user["content"]


# each built-in role ---------------------------------------------------------------------------------
def test_the_critic_reviews_the_files_named_with_a_bounded_context(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    llm.script([REVIEW])
    chat = make_chat(settings, fake)
    chat.say("developer", "Is `double` safe for large inputs?")
    chat.say("assistant", "It multiplies by two; let us ask the critic.")
    replies = chat.say("developer", f"@critic file_id={LIB}")
    assert replies == [f"@critic (grok-test) on file_id={LIB} `src/lib.rs`:\n\n{REVIEW}\n\n" + replies[0].rsplit("\n", 1)[-1]]
    [request] = llm.completions
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.body is not None and request.body["model"] == "grok-test" and request.body["max_tokens"] == 4096
    system, user = parts(request)
    assert system == prompts.CRITIC
    assert f"=== file_id={LIB} path=src/lib.rs" in user and "x * 2" in user  # the file, as a sandwich
    assert "[developer] Is `double` safe" in user and "[assistant] It multiplies" in user and "[developer] @critic" in user
    assert "src/util.rs" not in user  # only what was named
    assert "apply" not in fake.calls  # text only


def test_the_critic_reviews_a_patch_after_its_line_or_else_the_last_change(
    settings: Settings, fake: FakeExecutor, llm: FakeLLM
) -> None:
    llm.script(["- the shift is fine for i64.", "- `x + x` reads better than a shift."])
    chat = make_chat(settings, fake)
    first = chat.say("developer", f"@critic\n{SHIFT}")
    assert first[0].startswith("@critic (grok-test) on the patch:")
    assert "+    x << 1" in parts(llm.completions[0])[1]
    assert "apply" not in fake.calls  # a patch under review is not applied
    chat.say("assistant", f"@agent code improvement\n{ADD}")
    second = chat.say("developer", "@critic")
    assert second[0].startswith("@critic (grok-test) on the last change (src/lib.rs):")
    user = parts(llm.completions[1])[1]
    assert "+    x + x" in user and "=== file_id=2 path=src/lib.rs" in user
    assert "Your earlier reviews" in user and "the shift is fine" in user  # so that it says only what is new


def test_the_generator_writes_a_patch_that_is_applied_checked_and_committed_as_the_generator(
    settings: Settings, fake: FakeExecutor, llm: FakeLLM
) -> None:
    llm.script([SHIFT])
    chat = make_chat(settings, fake)
    replies = chat.say("developer", f"@generator file_id={LIB} [vibe: double with a shift]")
    assert len(replies) == 1
    head, updated = replies[0].split("\n\n", 1)
    assert head == f"@all @generator (grok-test) on file_id={LIB} `src/lib.rs`: Doubles with a shift."
    assert updated.startswith("Updated src/lib.rs by @generator:") and "x << 1" in updated and "OK" in updated
    assert "x << 1" in fake.get_code(path="src/lib.rs").text
    system, user = parts(llm.completions[0])
    assert system == prompts.GENERATOR and "Request:\ndouble with a shift" in user
    committed = chat.say("developer", "@agent commit [msg: shift]")
    assert committed[0].startswith("Committed ")
    commit = fake.commits[-1][0]
    assert commit.author == "Generator <generator@roles.devspace.local>"
    assert commit.message.startswith("From Generator: shift (chat_id=123)")


def test_the_tester_extends_tests_whose_names_match_the_topic(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    passing = CheckResult(kind="degradation", ok=True, tests=[TestCase(name="doubles", outcome="passed"),
                                                              TestCase(name="doubles_negative", outcome="passed")])
    fake.script("degradation", passing)
    llm.script([NEW_TEST])
    chat = make_chat(settings, fake)
    replies = chat.say("developer", f"@tester file_id={DOUBLE_TEST} #doubles [cover negative numbers]")
    assert replies[0].startswith(f"@all @tester (grok-test) on file_id={DOUBLE_TEST} `tests/double.rs`: Covers negative numbers.")
    assert "Updated tests/double.rs by @tester" in replies[0]
    assert "fn doubles_negative()" in fake.get_code(path="tests/double.rs").text
    system, user = parts(llm.completions[0])
    assert system == prompts.TESTER
    assert "Request:\ncover negative numbers" in user and "Topic: `doubles`" in user


def test_a_tester_patch_without_tests_matching_its_topic_is_a_failure(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    """The topic is the test filter of the check: a patch whose tests do not match it is not accepted."""
    settings.rules.max_attempts = 1
    fake.script("degradation", CheckResult(kind="degradation", ok=True, tests=[TestCase(name="other", outcome="passed")]))
    fake.script("degradation", CheckResult(kind="degradation", ok=True, tests=[TestCase(name="other", outcome="passed")]))
    llm.rule = lambda request: NEW_TEST
    chat = make_chat(settings, fake)
    replies = chat.say("developer", f"@tester file_id={DOUBLE_TEST} #doubles")
    assert replies[0].startswith("@dev escalate: @tester (grok-test)")
    assert "tests matching 'doubles': 0 ran, 0 failed" in replies[0]
    assert "doubles_negative" not in fake.get_code(path="tests/double.rs").text  # rolled back


def test_the_optimizer_proposes_a_patch(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    llm.script([SHIFT])
    chat = make_chat(settings, fake)
    replies = chat.say("developer", f"@optimizer file_id={LIB}")
    assert replies[0].startswith(f"@all @optimizer (grok-test) on file_id={LIB}") and "Updated src/lib.rs by @optimizer" in replies[0]
    system, user = parts(llm.completions[0])
    assert system == prompts.OPTIMIZER and "Request:\nMake the code shown faster or smaller" in user


# the fix loop ---------------------------------------------------------------------------------------
def test_a_failing_role_patch_is_fixed_by_the_same_role(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    fake.script("degradation", FAILED, CheckResult(kind="degradation", ok=True))
    llm.script([ADD, SHIFT])
    chat = make_chat(settings, fake)
    replies = chat.say("developer", f"@generator file_id={LIB} [vibe: double faster]")
    assert len(replies) == 1
    assert replies[0].startswith(f"@all @generator (grok-test) on file_id={LIB} `src/lib.rs`: Doubles by adding.")
    assert "Updated src/lib.rs (fixed by @generator on attempt 1)" in replies[0]
    assert "x << 1" in fake.get_code(path="src/lib.rs").text
    _, fix = llm.completions
    system, user = parts(fix)
    assert system == prompts.GENERATOR  # the fix is asked of the same role, with its own prompt
    assert fix.body is not None and fix.body["model"] == "grok-test"
    assert "fix attempt 1" in user and "E0308" in user and "+    x + x" in user  # the failure and the patch that failed
    assert "[developer]" not in user  # a fix is shown the failure, not the chat


def test_a_role_patch_blocked_by_the_environment_goes_to_the_developer_and_asks_the_role_nothing_more(
    settings: Settings, fake: FakeExecutor, llm: FakeLLM
) -> None:
    unavailable = CheckResult(
        kind="degradation", ok=False, tests_run=False,
        diagnostics=[Diagnostic(level="error", message="no matching package named `atty` found")],
        environment=EnvironmentIssue(kind="dependency-unavailable", missing=["atty"], looked_in="the vendored sources", at_base=True, advice="Provide it offline."),
    )
    fake.script("degradation", unavailable)
    llm.script([ADD, SHIFT])
    replies = make_chat(settings, fake).say("developer", f"@generator file_id={LIB} [vibe: double faster]")
    assert len(replies) == 1 and "@dev escalate:" in replies[0] and "`atty`" in replies[0]
    assert "fixed by @generator" not in replies[0]
    assert len(llm.completions) == 1  # the generator's patch only: no fix is asked for a crate nobody has
    assert "x + x" in fake.get_code(path="src/lib.rs").text  # the patch stays applied, unverified


def test_a_role_patch_that_keeps_failing_escalates_after_three_fixes(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    fake.script("degradation", FAILED, FAILED, FAILED, FAILED)
    llm.rule = lambda request: ADD
    chat = make_chat(settings, fake)
    replies = chat.say("developer", f"@generator file_id={LIB} [vibe: double faster]")
    assert len(replies) == 1 and replies[0].startswith("@dev escalate: @generator (grok-test)")
    assert f"the patch from @generator for file_id={LIB} (double faster): still failing after 3 fix attempts" in replies[0]
    assert len(llm.completions) == 4  # the patch and three fixes
    assert fake.calls.count("undo") == 4
    assert fake.get_code(path="src/lib.rs").text == FILES["src/lib.rs"]
    assert chat.orchestrator.journal.open_task("123") is None


def test_an_api_failure_during_the_fixes_escalates_with_a_clear_reason(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    fake.script("degradation", FAILED)
    llm.script([ADD, Outcome.fail(400, "context length exceeded")])
    chat = make_chat(settings, fake)
    replies = chat.say("developer", f"@generator file_id={LIB} [vibe: double faster]")
    assert replies[0].startswith("@dev escalate: @generator")
    assert "no fix from @generator (the LLM API at 127.0.0.1 failed: HTTP 400: context length exceeded)" in replies[0]


# #critics_allowed ------------------------------------------------------------------------------------
def test_while_the_developer_allows_critics_the_critic_reviews_each_landed_patch_and_posts_only_news(
    settings: Settings, fake: FakeExecutor, llm: FakeLLM
) -> None:
    llm.script([REVIEW, "NO_COMMENT"])
    chat = make_chat(settings, fake)
    chat.say("developer", "Make `double` cheaper. #critics_allowed")
    first = chat.say("assistant", f"@agent code improvement\n{ADD}")
    assert len(first) == 2 and first[0].startswith("@all Updated src/lib.rs")
    assert first[1] == f"@critic (grok-test) on the patch to src/lib.rs:\n\n{REVIEW}\n\n" + first[1].rsplit("\n", 1)[-1]
    system, user = parts(llm.completions[0])
    assert system == prompts.CRITIC and "Review this patch" in user and "+    x + x" in user and "x + x" in user

    second = chat.say("assistant", "@agent code improvement\n" + diff("    x + x", "    x << 1"))
    assert len(second) == 1  # the critic had nothing new: nothing posted
    assert len(llm.completions) == 2 and REVIEW in parts(llm.completions[1])[1]  # it was shown its earlier review

    chat.say("developer", "Thanks, go on.")  # without the tag: critics are off again
    third = chat.say("assistant", "@agent code improvement\n" + diff("    x << 1", "    2 * x"))
    assert len(third) == 1 and len(llm.completions) == 2


def test_without_the_tag_or_in_code_the_critic_stays_silent(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    chat = make_chat(settings, fake)
    chat.say("developer", "The tag `#critics_allowed` is off here.")
    replies = chat.say("developer", f"@agent code improvement\n{ADD}")
    assert len(replies) == 1 and llm.completions == []


# configuration -----------------------------------------------------------------------------------------
def test_a_custom_role_from_the_configuration_file(tmp_path: Path, fake: FakeExecutor, llm: FakeLLM) -> None:
    config = tmp_path / "devspace.yaml"
    config.write_text(
        "roles:\n"
        "  security:\n"
        "    prompt: You look for unsafe code and integer overflow. Answer in bullet points.\n"
        "    summary: looks for unsafe code and overflow\n"
        "    access: developer+assistant\n"
        "    max_tokens: 300\n"
        "  critic:\n"
        "    model: grok-critic\n",
        encoding="utf-8",
    )
    settings = make_settings(tmp_path, llm, config=config)
    llm.script(["- no unsafe code.", "- overflow at i64::MAX / 2."])
    chat = make_chat(settings, fake)
    help_text = chat.say("developer", "@agent help")[0]
    assert "- `@security [file_id=N,…] [#topic] [request]` — looks for unsafe code and overflow (text only) (developer+assistant)" in help_text
    assert "- `@critic [file_id=N,…] [#topic] [request]` — reviews the files named" in help_text
    replies = chat.say("assistant", f"@security file_id={LIB}")  # this role lets the assistant call it
    assert replies[0].startswith(f"@security (grok-test) on file_id={LIB} `src/lib.rs`:\n\n- no unsafe code.")
    request = llm.completions[0]
    assert parts(request)[0] == "You look for unsafe code and integer overflow. Answer in bullet points."
    assert request.body is not None and request.body["max_tokens"] == 300
    chat.say("developer", f"@critic file_id={LIB}")
    assert llm.completions[1].body is not None and llm.completions[1].body["model"] == "grok-critic"  # a built-in, overridden key by key
    assert parts(llm.completions[1])[0] == prompts.CRITIC


def test_two_roles_on_two_endpoints_in_one_chat(
    tmp_path: Path, fake: FakeExecutor, llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    monkeypatch.setenv("OTHER_VENDOR_KEY", OTHER_KEY)
    with FakeLLM(api_key=OTHER_KEY, model="other-model") as other:
        settings = make_settings(
            tmp_path, llm, roles={"critic": {"base_url": other.base_url, "model": "other-model", "api_key_env": "OTHER_VENDOR_KEY"}}
        )
        llm.script([SHIFT])
        other.script([REVIEW])
        chat = make_chat(settings, fake)
        generated = chat.say("developer", f"@generator file_id={LIB} [vibe: double with a shift]")
        reviewed = chat.say("developer", f"@critic file_id={LIB}")
        status = chat.say("developer", "@agent status")[0]
    assert generated[0].startswith("@all @generator (grok-test)") and reviewed[0].startswith("@critic (other-model)")
    [mine] = llm.completions
    [theirs] = other.completions
    assert mine.headers["authorization"] == f"Bearer {API_KEY}" and mine.body is not None and mine.body["model"] == "grok-test"
    assert theirs.headers["authorization"] == f"Bearer {OTHER_KEY}" and theirs.body is not None and theirs.body["model"] == "other-model"
    assert "x << 1" in parts(theirs)[1]  # the critic sees the generator's change
    assert "@critic 1 call(s)" in status and "@generator 1 call(s)" in status
    everything = logs.getvalue() + "".join(generated + reviewed) + status + (settings.home / "journal.db").read_bytes().decode("latin-1")
    assert API_KEY not in everything and OTHER_KEY not in everything


def test_a_role_on_another_endpoint_never_gets_the_default_key(tmp_path: Path, fake: FakeExecutor, llm: FakeLLM) -> None:
    with FakeLLM() as other:  # accepts any key: it would record the default one if it were sent
        settings = make_settings(tmp_path, llm, roles={"critic": {"base_url": other.base_url, "api_key_env": "NOT_SET_ANYWHERE"}})
        replies = make_chat(settings, fake).say("developer", f"@critic file_id={LIB}")
        assert other.requests == []
    assert replies[0].startswith(f"`@critic` needs an API key for {other.base_url}: the variable NOT_SET_ANYWHERE")


@pytest.mark.parametrize(
    ("roles", "error"),
    [
        ({"agent": {"prompt": "p"}}, "role name 'agent' is reserved"),
        ({"status": {"prompt": "p"}}, "role name 'status' is reserved"),
        ({"Critic": {"model": "m"}}, "role name 'Critic': lowercase letters"),
        ({"reviewer": {"summary": "no prompt"}}, "roles.reviewer.prompt: field required"),
        ({"critic": {"produces": "code"}}, "roles.critic.produces"),
        ({"critic": {"modle": "m"}}, "roles.critic.modle: unknown setting"),
    ],
)
def test_bad_role_settings_are_refused_with_the_field_named(tmp_path: Path, roles: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path, roles=roles)
    assert error.lower() in str(caught.value).lower()


# no key, API failures ------------------------------------------------------------------------------
def test_without_a_key_a_role_tag_gets_one_clear_reply(tmp_path: Path, fake: FakeExecutor, llm: FakeLLM) -> None:
    settings = make_settings(tmp_path, None)
    chat = make_chat(settings, fake)
    replies = chat.say("developer", f"@critic file_id={LIB}")
    assert replies == [
        "`@critic` needs an LLM API key, and none is configured: set XAI_API_KEY (or DEVSPACE_LLM__API_KEY) for "
        "https://api.x.ai/v1 where the bridge runs, or give the role an endpoint of its own in devspace.yaml "
        "(roles.critic: base_url, model, api_key_env). Nothing was sent.\n\n" + replies[0].rsplit("\n", 1)[-1]
    ]
    assert len(chat.say("developer", f"@generator file_id={LIB} [vibe: faster]")) == 1
    assert llm.requests == [] and fake.calls.count("apply") == 0


FAILURES = {
    "rate limit, Retry-After too long": (
        [Outcome.fail(429, "rate limit reached", retry_after="60")], 1, "asks to wait 60s (more than max_backoff): HTTP 429: rate limit reached"
    ),
    "timeout": ([Outcome(text="late", delay=1.5), Outcome(text="late", delay=1.5)], 2, "failed after 2 attempts: timed out after 0.5s"),
    "refusal": ([Outcome.refuse("I will not review this code.")], 1, "the model at 127.0.0.1 declined to answer: I will not review this code."),
    "malformed answer": ([Outcome.malformed(), Outcome.malformed("<html>oops</html>")], 2, "failed after 2 attempts: malformed answer"),
    "server error": ([Outcome.fail(503, "upstream overloaded")] * 2, 2, "failed after 2 attempts: HTTP 503: upstream overloaded"),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_each_api_failure_is_retried_where_sensible_then_reported_never_raw(
    name: str, tmp_path: Path, fake: FakeExecutor, llm: FakeLLM, logs: io.StringIO
) -> None:
    outcomes, requests, reason = FAILURES[name]
    settings = make_settings(tmp_path, llm, llm={"timeout": 0.5})
    llm.script(outcomes)
    chat = make_chat(settings, fake)
    replies = chat.say("developer", f"@critic file_id={LIB}")
    assert len(llm.completions) == requests
    assert len(replies) == 1 and replies[0].startswith("`@critic` got no answer: ") and reason in replies[0]
    assert '{"error"' not in replies[0] and "<html>" not in replies[0] and API_KEY not in replies[0] + logs.getvalue()
    status = chat.say("developer", "@agent status")[0]
    assert "@critic 1 call(s) (1 failed), 0 tokens" in status


def test_a_rate_limit_within_max_backoff_is_retried_and_answered(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    llm.script([Outcome.fail(429, "slow down", retry_after="1"), REVIEW])
    replies = make_chat(settings, fake).say("developer", f"@critic file_id={LIB}")
    assert REVIEW in replies[0]
    first, second = llm.completions
    assert second.at - first.at >= 1.0


def test_a_patch_role_answer_without_a_patch_goes_to_the_fix_loop(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    settings.rules.max_attempts = 1
    llm.script(["I would rather explain than patch.", SHIFT])
    replies = make_chat(settings, fake).say("developer", f"@generator file_id={LIB} [vibe: faster]")
    assert replies[0].startswith(f"@all @generator (grok-test) on file_id={LIB} `src/lib.rs`: I would rather explain than patch.")
    assert "fixed by @generator on attempt 1" in replies[0]


# limits, access, the loop guard, status, restarts -------------------------------------------------
def test_a_role_stops_at_its_calls_per_hour(tmp_path: Path, fake: FakeExecutor, llm: FakeLLM) -> None:
    settings = make_settings(tmp_path, llm, roles={"critic": {"calls_per_hour": 2}})
    chat = make_chat(settings, fake)
    for _ in range(2):
        chat.say("developer", f"@critic file_id={LIB}")
    refused = chat.say("developer", f"@critic file_id={LIB}")
    assert refused[0].startswith("`@critic` has made its 2 calls of the last hour (roles.critic.calls_per_hour)")
    assert len(llm.completions) == 2
    chat.orchestrator.clock = lambda: time.time() + 3601.0  # an hour later
    assert "has made its" not in chat.say("developer", f"@critic file_id={LIB}")[0]
    assert len(llm.completions) == 3


def test_the_assistant_may_call_only_the_roles_configured_for_it(tmp_path: Path, fake: FakeExecutor, llm: FakeLLM) -> None:
    settings = make_settings(tmp_path, llm, roles={"critic": {"access": "developer+assistant"}})
    chat = make_chat(settings, fake)
    refused = chat.say("assistant", f"@generator file_id={LIB} [vibe: faster]")
    assert refused[0].startswith("`@generator` is not allowed for the assistant; allowed: developer")
    assert "(grok-test)" in chat.say("assistant", f"@critic file_id={LIB}")[0]
    assert len(llm.completions) == 1


def test_the_loop_guard_counts_role_runs(tmp_path: Path, fake: FakeExecutor, llm: FakeLLM) -> None:
    settings = make_settings(tmp_path, llm, roles={"critic": {"access": "developer+assistant"}}, rules={"loop_limit": 3})
    chat = make_chat(settings, fake)
    for _ in range(3):
        assert "(grok-test)" in chat.say("assistant", f"@critic file_id={LIB}")[0]
    paused = chat.say("assistant", f"@critic file_id={LIB}")
    assert paused[0].startswith("@dev escalate: loop guard: the assistant has run 3 commands in a row")
    assert len(llm.completions) == 3


def test_the_critics_own_reviews_count_toward_the_loop_guard(tmp_path: Path, fake: FakeExecutor, llm: FakeLLM) -> None:
    settings = make_settings(tmp_path, llm, rules={"loop_limit": 4})
    llm.rule = lambda request: f"- review {len(llm.completions)}"
    chat = make_chat(settings, fake)
    chat.say("developer", "Go ahead. #critics_allowed")
    assert len(chat.say("assistant", f"@agent code improvement\n{ADD}")) == 2  # patch 1, review 1
    assert len(chat.say("assistant", "@agent code improvement\n" + diff("    x + x", "    x << 1"))) == 2  # patch 2, review 2
    paused = chat.say("assistant", "@agent code improvement\n" + diff("    x << 1", "    2 * x"))
    assert paused[0].startswith("@dev escalate: loop guard")  # 2 patches + 2 reviews reached the limit of 4
    assert len(llm.completions) == 2


def test_a_review_is_not_made_while_the_chain_is_paused(tmp_path: Path, fake: FakeExecutor, llm: FakeLLM) -> None:
    settings = make_settings(tmp_path, llm, rules={"loop_limit": 1})
    chat = make_chat(settings, fake)
    chat.say("developer", "#critics_allowed")
    replies = chat.say("assistant", f"@agent code improvement\n{ADD}")
    assert len(replies) == 1 and llm.completions == []  # the patch used the chain's one run


def test_status_shows_each_roles_calls_and_tokens_in_this_chat(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    llm.script(["one two three", "four five", SHIFT])
    chat = make_chat(settings, fake)
    assert "Roles: none called in this chat" in chat.say("developer", "@agent status")[0]
    chat.say("developer", f"@critic file_id={LIB}")
    chat.say("developer", f"@critic file_id={LIB}")
    chat.say("developer", f"@generator file_id={LIB} [vibe: shift]")
    status = chat.say("developer", "@agent status")[0]
    usage = {r.role: r for r in chat.orchestrator.journal.role_usage("123")}
    critic, generator = usage["critic"], usage["generator"]
    assert (critic.calls, critic.completion_tokens, generator.calls) == (2, 5, 1)
    prompt_tokens = sum(len(r.prompt.split()) for r in llm.completions[:2])
    assert critic.prompt_tokens == prompt_tokens
    assert f"@critic 2 call(s), {prompt_tokens + 5} tokens ({prompt_tokens} in, 5 out)" in status
    assert "@generator 1 call(s)" in status
    other = Chat(chat.orchestrator, chat_id="456")
    assert "Roles: none called in this chat" in other.say("developer", "@agent status")[0]


def test_a_role_patch_interrupted_after_it_reached_the_workspace_is_not_repeated(
    settings: Settings, fake: FakeExecutor, llm: FakeLLM
) -> None:
    from bridge.models import ChatMessage

    chat = make_chat(settings, fake)
    message = ChatMessage(id="g1", role="developer", text=f"@generator file_id={LIB} [vibe: faster]", chat_id="123")
    chat.orchestrator.intake.take(message)
    journal = chat.orchestrator.journal
    row = journal.unfinished_commands("123")[0]
    journal.set_stage(row.id, "applying")  # the bridge was killed while the patch was being applied
    restarted = Orchestrator(fake, Journal(settings.home / "journal.db"), settings)
    restarted.run_pending("123")
    assert llm.completions == [] and fake.calls.count("apply") == 0
    assert "interrupted by a restart after its patch reached the workspace" in journal.pending_replies("123")[-1].text


# tags in the chat ------------------------------------------------------------------------------------
@pytest.fixture
def tags(tmp_path: Path) -> dict[str, Any]:
    return load_settings(home=tmp_path, llm={"api_key": None}).role_verbs()


def test_a_tag_at_the_start_of_a_line_calls_a_role_with_its_arguments(tags: dict[str, Any]) -> None:
    text = (
        "Two things.\n"
        "@tester file_id=11 #aggr_trades [cover weeks that cross a year]\n"
        "  @Critic file_id=5,7\n"
        "@generator file_id=5 [vibe: оптимизировать adjust_to_monday]\n"
        "@agent status"
    )
    result = parse(text, tags)
    assert [c.verb for c in result.commands] == ["@tester", "@critic", "@generator", "status"] and result.issues == []
    tester, critic, generator, _ = result.commands
    assert arguments(tags["@tester"], tester) == RoleArguments(file_ids=[11], topic="aggr_trades")
    assert tester.data == "cover weeks that cross a year"
    assert arguments(tags["@critic"], critic) == RoleArguments(file_ids=[5, 7])
    assert arguments(tags["@generator"], generator) == RoleArguments(file_ids=[5], vibe="оптимизировать adjust_to_monday")


@pytest.mark.parametrize(
    "text",
    [
        "```\n@critic file_id=5\n```",  # fenced code
        "Write `@critic file_id=5` to ask for a review.",  # an inline code span
        "`@critic file_id=5`",
        "> @critic file_id=5",  # a quote
        "Ask @critic file_id=5 later",  # not at the start of a line
        "@critical thinking helps",  # a longer word
        "@critic, what do you think?",
        "@reviewer file_id=5",  # not a configured role
        "@dev escalate: nothing",
    ],
)
def test_text_that_is_not_a_role_tag_runs_nothing_and_says_nothing(tags: dict[str, Any], text: str) -> None:
    result = parse(text, tags)
    assert (result.commands, result.issues) == ([], [])


def test_role_tags_follow_the_rules_of_agent_lines(tags: dict[str, Any]) -> None:
    lookalike = parse("@сritic file_id=5", tags)  # a Cyrillic 'с'
    assert [i.reason for i in lookalike.issues] == ["looks like @critic but contains look-alike characters; not executed"]
    assert parse("@\u200bcritic file_id=5", tags).issues[0].reason.startswith("looks like @critic")
    words = parse("@critic please review file_id=5", tags)
    assert words.commands == [] and words.issues[0].reason.startswith("unexpected 'please review' after '@critic'")
    unknown = parse("@critic path=src/lib.rs", tags)
    assert unknown.issues[0].reason == "`@critic` has no parameter 'path'; it takes: file_id, topic, vibe"
    bad = parse("@critic file_id=five", tags)
    assert bad.issues[0].reason == "file_id must be numbers like 1,2,3, not 'five'"
    assert parse("@critic file_id=5").commands == []  # the parser knows only the roles it is given


def test_help_lists_every_role_by_its_tag(settings: Settings, fake: FakeExecutor) -> None:
    help_text = make_chat(settings, fake).say("assistant", "@agent help")[0]
    for tag in ("@generator", "@tester", "@critic", "@optimizer"):
        assert f"- `{tag} [file_id=N,…] [#topic] [request]` — " in help_text
    assert "- `@tester [file_id=N,…] [#topic] [request]` — writes or extends tests for a file or a failing behaviour (a patch, applied and checked) (developer)" in help_text


def test_a_tag_inside_code_in_a_message_calls_no_role(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    chat = make_chat(settings, fake)
    assert chat.say("developer", "To get a review write:\n```\n@critic file_id=2\n```") == []
    assert llm.requests == []


# on the example crate, with real cargo and git ------------------------------------------------------
@pytest.mark.cargo
def test_the_tester_adds_a_test_to_the_example_crate_and_its_commit_is_the_testers(
    tmp_path: Path, crate_copy: Path, llm: FakeLLM
) -> None:
    """The demo's tester answer, through the real applier, cargo (the topic as the test filter) and git."""
    import git

    from bridge.demo_roles import TESTER_ANSWER
    from sandbox.local import LocalExecutor

    settings = make_settings(tmp_path, llm, project=crate_copy, roles={"tester": {"identity": {"name": "QA Bot", "email": "qa@example.org"}}})
    executor = LocalExecutor(crate_copy, settings.sandbox_config())
    llm.script([TESTER_ANSWER])
    chat = make_chat(settings, executor)  # type: ignore[arg-type]
    aggr = next(e.file_id for e in executor.files() if e.path.endswith("aggr_trades.rs"))
    replies = chat.say("developer", f"@tester file_id={aggr} #aggr_trades [cover weeks that cross a year]")
    assert replies[0].startswith(f"@all @tester (grok-test) on file_id={aggr} `src/tests/task/aggr_trades.rs`: Adds a test")
    assert "check degradation vs" in replies[0] and "OK" in replies[0]
    user = parts(llm.completions[0])[1]
    assert f"=== file_id={aggr} path=src/tests/task/aggr_trades.rs" in user and "Topic: `aggr_trades`" in user
    chat.say("developer", "@agent commit [msg: Тест: неделя на границе года]")
    head = git.Repo(executor.ws.tree).head.commit
    assert (head.author.name, head.author.email) == ("QA Bot", "qa@example.org")
    assert str(head.message).startswith("From QA Bot: Тест: неделя на границе года (chat_id=123)")
    assert "aggr_trades_week_crosses_a_year" in (executor.ws.tree / "src/tests/task/aggr_trades.rs").read_text()
    executor.close()


# the context is bounded ------------------------------------------------------------------------------
def test_a_role_is_shown_the_last_few_turns_never_the_whole_history(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    from bridge.journal import TURNS_KEPT
    from bridge.roles.context import TURNS
    from sandbox.redact import MASK, redactor

    secret = "pasted-secret-value-8812"
    redactor.register(secret)
    chat = make_chat(settings, fake)
    for number in range(TURNS_KEPT + 10):
        chat.say("developer" if number % 2 else "assistant", f"turn {number:03d}")
    chat.say("developer", f"my key is {secret}, oops")
    chat.say("developer", "broken \ud83d half of an emoji")  # recorded all the same
    chat.say("developer", f"@critic file_id={LIB}")
    user = parts(llm.completions[0])[1]
    shown = [line for line in user.splitlines() if line.startswith("[")]
    assert len(shown) == TURNS
    assert shown[-1] == f"[developer] @critic file_id={LIB}" and shown[-2] == "[developer] broken \ufffd half of an emoji"
    assert f"my key is {MASK}, oops" in user and secret not in user
    assert "turn 000" not in user and f"turn {TURNS_KEPT + 9:03d}" in user
    kept = chat.orchestrator.journal.last_turns("123", 1000)
    assert len(kept) == TURNS_KEPT


def test_a_role_is_shown_at_most_six_files(settings: Settings, llm: FakeLLM) -> None:
    many = {f"src/m{n}.rs": f"pub fn m{n}() {{}}\n" for n in range(1, 9)}
    executor = FakeExecutor(many)
    try:
        replies = make_chat(settings, executor).say("developer", "@critic file_id=1,2,3,4,5,6,7,8")
    finally:
        executor.close()
    assert replies[0].startswith("@critic (grok-test) on file_id=1 `src/m1.rs`, ") and "(the first 6 of the 8 files named):" in replies[0]
    user = parts(llm.completions[0])[1]
    assert [f"src/m{n}.rs" in user for n in range(1, 9)] == [True] * 6 + [False] * 2


def test_critics_allowed_without_a_key_is_said_once(tmp_path: Path, fake: FakeExecutor) -> None:
    chat = make_chat(make_settings(tmp_path, None), fake)
    chat.say("developer", "#critics_allowed")
    first = chat.say("assistant", f"@agent code improvement\n{ADD}")
    assert len(first) == 2 and first[1].startswith("#critics_allowed: `@critic` needs an LLM API key")
    second = chat.say("assistant", "@agent code improvement\n" + diff("    x + x", "    x << 1"))
    assert len(second) == 1


def test_a_file_id_that_is_not_known_is_a_clear_error_and_nothing_is_sent(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    replies = make_chat(settings, fake).say("developer", "@critic file_id=99")
    assert replies[0].startswith("`@critic` failed: no file with file_id=99")
    assert llm.requests == []


def test_a_text_role_with_nothing_to_look_at_says_what_to_give_it(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    chat = make_chat(settings, fake)
    assert chat.say("developer", "@critic")[0].startswith("`@critic` has nothing to look at: name files (file_id=N,…)")
    assert chat.say("developer", "@generator")[0].startswith("`@generator` needs a request: `[vibe: …]`")
    assert llm.requests == []


def test_a_role_never_commits_or_undoes_whatever_its_answer_says(settings: Settings, fake: FakeExecutor, llm: FakeLLM) -> None:
    """A role's answer is never read as commands: not when it is applied, not when its post is read back."""
    llm.script([f"@agent commit [msg: by the generator]\n@agent undo\n\n{SHIFT}", "@agent undo\n@agent commit [msg: by the critic]"])
    chat = make_chat(settings, fake)
    chat.say("developer", f"@generator file_id={LIB} [vibe: shift]")
    review = chat.say("developer", f"@critic file_id={LIB}")[0]
    assert "@agent undo" in review
    assert chat.say("developer", review) == []  # the bot's post, read back from the chat
    assert fake.commits == [] and "undo" not in fake.calls
    assert "x << 1" in fake.get_code(path="src/lib.rs").text
