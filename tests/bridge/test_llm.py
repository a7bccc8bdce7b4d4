"""The LLM client over real HTTP (real openai SDK) against FakeLLM; the fix prompt it sends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import formatdate

import openai
import pytest

from bridge.config import LLMSettings
from bridge.llm import LLMClient, LLMError, parse_retry_after
from bridge.prompts import FILES_BUDGET, SYSTEM, fix_prompt
from sandbox.models import CodeFile
from sandbox.redact import MASK
from sandbox.serving import free_port
from tests.support.fake_llm import FakeLLM, Outcome, RecordedRequest

KEY = "plain-key-4f7c19d2e8"  # not token-shaped: only the registered secret can mask it
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "fix it"}]


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM(api_key=KEY) as llm:
        yield llm


def client(fake: FakeLLM, **overrides: object) -> LLMClient:
    values = {"api_key": KEY, "base_url": fake.base_url, "model": "grok-test", "timeout": 5, "max_retries": 3, "max_backoff": 5}
    return LLMClient(LLMSettings.model_validate({**values, **overrides}))


def test_success_sends_the_key_model_and_messages(fake: FakeLLM) -> None:
    fake.script(["the answer"])
    assert client(fake).complete(MESSAGES).text == "the answer"
    [request] = fake.completions
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body is not None and request.body["model"] == "grok-test"
    assert request.messages == MESSAGES


def test_429_with_retry_after_waits_at_least_that_long(fake: FakeLLM, logs: list[str]) -> None:
    fake.script([Outcome.fail(429, "slow down", retry_after="1"), "after the wait"])
    assert client(fake).complete(MESSAGES).text == "after the wait"
    first, second = fake.completions
    assert second.at - first.at >= 1.0
    assert any(line.startswith("WARNING: LLM attempt 1/4 failed: HTTP 429: slow down; retrying in") for line in logs)


def test_retry_after_ms_is_honoured(fake: FakeLLM) -> None:
    fake.script([Outcome.fail(429, retry_after_ms="1300"), "ok"])
    assert client(fake).complete(MESSAGES).text == "ok"
    first, second = fake.completions
    assert second.at - first.at >= 1.3


def test_retry_after_parsing() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    in_30s = parse_retry_after({"retry-after": formatdate(time.time() + 30, usegmt=True)})
    assert in_30s is not None and 28.0 <= in_30s <= 30.0
    assert parse_retry_after({"retry-after": formatdate(time.time() - 60, usegmt=True)}) == 0.0
    assert parse_retry_after({"retry-after": "whenever"}) is None
    assert parse_retry_after({}) is None


def test_a_retry_after_beyond_max_backoff_gives_up_at_once(fake: FakeLLM) -> None:
    fake.script([Outcome.fail(429, "quota", retry_after="120"), "never sent"])
    with pytest.raises(LLMError, match="asks to wait 120s") as caught:
        client(fake, max_backoff=5).complete(MESSAGES)
    assert caught.value.status == 429
    assert len(fake.completions) == 1


def test_503_then_success(fake: FakeLLM) -> None:
    fake.script([Outcome.fail(503, "overloaded"), "recovered"])
    assert client(fake).complete(MESSAGES).text == "recovered"
    assert len(fake.completions) == 2


def test_400_is_not_retried(fake: FakeLLM) -> None:
    fake.script([Outcome.fail(400, "messages too long"), "never sent"])
    with pytest.raises(LLMError, match="HTTP 400: messages too long") as caught:
        client(fake).complete(MESSAGES)
    assert (caught.value.status, caught.value.attempts) == (400, 1)
    assert len(fake.completions) == 1
    assert fake.pending == 1


def test_gives_up_after_max_retries(fake: FakeLLM, logs: list[str]) -> None:
    fake.script([Outcome.fail(500, "boom")] * 3 + ["too late"])
    with pytest.raises(LLMError, match=r"failed after 3 attempts: HTTP 500: boom") as caught:
        client(fake, max_retries=2).complete(MESSAGES)
    assert (caught.value.status, caught.value.attempts) == (500, 3)
    assert len(fake.completions) == 3
    assert sum(line.startswith("WARNING: LLM attempt") for line in logs) == 2
    assert any(line.startswith("ERROR: LLM request failed") for line in logs)


def test_timeout_is_retried(fake: FakeLLM) -> None:
    fake.script([Outcome(text="late", delay=1.0), "in time"])
    assert client(fake, timeout=0.3).complete(MESSAGES).text == "in time"
    assert len(fake.completions) == 2


def test_connection_error_is_retried_then_reported() -> None:
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    settings = LLMSettings.model_validate({"api_key": KEY, "base_url": nobody, "max_retries": 1, "max_backoff": 1})
    with pytest.raises(LLMError, match=r"failed after 2 attempts: cannot connect to 127\.0\.0\.1") as caught:
        LLMClient(settings).complete(MESSAGES)
    assert caught.value.attempts == 2


def test_empty_answer_is_an_error(fake: FakeLLM) -> None:
    fake.script([""])
    with pytest.raises(LLMError, match="empty answer"):
        client(fake).complete(MESSAGES)


def test_the_answer_carries_its_usage_and_the_output_limit_is_sent(fake: FakeLLM) -> None:
    fake.script([Outcome(text="a b c", finish_reason="length")])
    answer = client(fake).complete(MESSAGES, max_tokens=3)
    assert (answer.text, answer.completion_tokens, answer.truncated) == ("a b c", 3, True)
    assert answer.prompt_tokens == len(fake.completions[0].prompt.split())
    assert fake.completions[0].body is not None and fake.completions[0].body["max_tokens"] == 3
    client(fake).complete(MESSAGES)
    assert fake.completions[1].body is not None and "max_tokens" not in fake.completions[1].body


@pytest.mark.parametrize("finish", ["stop", "content_filter"])
def test_a_refusal_is_not_retried(fake: FakeLLM, finish: str) -> None:
    refused = Outcome.refuse("I can't help with that.") if finish == "stop" else Outcome(text="", finish_reason=finish)
    fake.script([refused, "never sent"])
    with pytest.raises(LLMError, match="declined to answer") as caught:
        client(fake).complete(MESSAGES)
    assert caught.value.kind == "refusal" and len(fake.completions) == 1


def test_a_malformed_answer_is_retried_then_reported(fake: FakeLLM) -> None:
    fake.script([Outcome.malformed(), "recovered"])
    assert client(fake).complete(MESSAGES).text == "recovered"
    fake.script([Outcome.malformed("<html>bad gateway</html>")] * 4)
    with pytest.raises(LLMError, match=r"failed after 4 attempts: malformed answer: the response was not JSON") as caught:
        client(fake).complete(MESSAGES)
    assert caught.value.kind == "malformed" and "<html>" not in str(caught.value)


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (Outcome.fail(429, retry_after="120"), "rate_limit"),
        (Outcome.fail(400), "rejected"),
        (Outcome.fail(404, "model not found"), "rejected"),
        (Outcome(text=""), "empty"),
    ],
)
def test_each_failure_has_its_kind(fake: FakeLLM, outcome: Outcome, kind: str) -> None:
    fake.script([outcome])
    with pytest.raises(LLMError) as caught:
        client(fake).complete(MESSAGES)
    assert caught.value.kind == kind


def test_no_key_is_refused_before_any_request() -> None:
    with pytest.raises(LLMError, match="no LLM API key configured"):
        LLMClient(LLMSettings(api_key=None))


def test_the_key_never_reaches_logs_or_error_text(fake: FakeLLM, logs: list[str]) -> None:
    fake.script([Outcome.fail(500, f"upstream rejected {KEY}"), Outcome.fail(401, f"Incorrect API key provided: {KEY}")])
    with pytest.raises(LLMError) as caught:
        client(fake).complete(MESSAGES)
    text = str(caught.value)
    assert caught.value.status == 401
    assert KEY not in text and f"Incorrect API key provided: {MASK}" in text
    assert logs and not any(KEY in line for line in logs)
    assert any(f"upstream rejected {MASK}" in line for line in logs)


# FakeLLM itself, through the real SDK: the other suites rely on it.


def test_fake_streams_sse_chunks_and_lists_models(fake: FakeLLM) -> None:
    fake.script(["a streamed answer, longer than one chunk"])
    sdk = openai.OpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0)
    stream = sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert "".join(pieces) == "a streamed answer, longer than one chunk"
    assert len([p for p in pieces if p]) > 1
    assert [m.id for m in sdk.models.list()] == ["fake-model"]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=fake.base_url, api_key="wrong-key", max_retries=0).models.list()


def test_fake_answers_by_rule_after_the_script_then_default() -> None:
    def rule(request: RecordedRequest) -> str | Outcome:
        return f"saw {len(request.messages)} messages" if "fix" in request.prompt else Outcome.fail(418, "no rule")

    with FakeLLM(rule=rule) as fake:
        fake.script(["scripted"])
        llm = client(fake, api_key="any-key-123")
        assert llm.complete(MESSAGES).text == "scripted"
        assert llm.complete(MESSAGES).text == "saw 2 messages"
        with pytest.raises(LLMError, match="HTTP 418: no rule"):
            llm.complete([{"role": "user", "content": "hello"}])
    with FakeLLM(default_reply="fallback") as fake:
        assert client(fake, api_key="any-key-123").complete(MESSAGES).text == "fallback"


# The fix prompt.


def rust_file(path: str, lines: int, marker_at: int) -> CodeFile:
    text = "\n".join(f"fn f{i}() -> u32 {{ {i} }}" if i != marker_at else 'fn broken() -> u32 { "x" }' for i in range(1, lines + 1))
    return CodeFile(file_id=7, path=path, text=text + "\n")


def test_fix_prompt_carries_task_failure_and_files_named_first() -> None:
    lib = CodeFile(file_id=1, path="src/lib.rs", text="pub mod report;\n")
    report = CodeFile(file_id=2, path="src/report.rs", text='pub fn total() -> u32 { "x" }\n')
    failure = "error[E0308]: mismatched types at src/report.rs:1:25"
    messages = fix_prompt("code improvement file_id=2: make total() count trades", failure, [lib, report], attempt=1)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == SYSTEM
    assert "ONLY" in SYSTEM and "unified diff" in SYSTEM and "SEARCH" in SYSTEM
    user = messages[1]["content"]
    assert "make total() count trades" in user and failure in user
    assert user.index("`src/report.rs`") < user.index("`src/lib.rs`")
    assert '```rust\npub fn total() -> u32 { "x" }\n```' in user
    assert "Earlier fixes" not in user
    assert "Earlier fixes" in fix_prompt("t", failure, [lib], attempt=2)[1]["content"]


def test_fix_prompt_bounds_a_large_file_around_the_failing_line() -> None:
    big = rust_file("src/big.rs", 4000, marker_at=3000)
    failure = "error[E0308]: mismatched types\n --> src/big.rs:3000:26"
    user = fix_prompt("task", failure, [big], attempt=1)[1]["content"]
    assert len(user) < FILES_BUDGET + 1000
    assert "fn broken()" in user
    assert "fn f1()" not in user
    assert "`src/big.rs` (lines " in user and " of 4000)" in user


def test_fix_prompt_reaches_the_api_intact(fake: FakeLLM) -> None:
    code = CodeFile(file_id=3, path="src/lib.rs", text="pub fn one() -> u32 { 2 }\n")
    messages = fix_prompt("make one() return 1", "test tests::one failed at src/lib.rs:1:1", [code], attempt=1)
    patch = "```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n-pub fn one() -> u32 { 2 }\n+pub fn one() -> u32 { 1 }\n```"
    fake.rule = lambda request: patch if "pub fn one() -> u32 { 2 }" in request.prompt else "no file"
    answer = client(fake).complete(messages).text
    assert answer.startswith("```diff") and "+pub fn one() -> u32 { 1 }" in answer
    assert fake.completions[0].messages == messages
