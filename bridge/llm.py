"""An OpenAI-compatible chat client with capped, jittered retries that honour Retry-After.

Every failure ends as an `LLMError` whose `kind` says what went wrong and whose text is chat-safe
(bounded, redacted, never the raw body). Retried: rate limits (429), timeouts, connection errors,
server errors (5xx) and malformed responses (not a chat completion). Not retried: other 4xx, a
refusal by the model (the same prompt gets the same refusal), an empty answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import openai
from loguru import logger
from openai.types.chat import ChatCompletion
from pydantic import BaseModel
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from bridge.config import LLMSettings
from sandbox.redact import redact
from sandbox.text import one_line

INITIAL_BACKOFF = 0.5
MAX_DETAIL = 240
RETRY_STATUSES = frozenset({408, 429})
REFUSAL_FINISH = "content_filter"

FailureKind = Literal["no_key", "limit", "rate_limit", "timeout", "connection", "server", "rejected", "refusal", "malformed", "empty"]
"""`no_key` and `limit` (an agent role's calls per hour) are found before any request."""


class LLMError(Exception):
    """No answer from the LLM API; the message is chat-safe (never the key, never a raw body)."""

    def __init__(self, message: str, *, kind: FailureKind, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.attempts = attempts


class Answer(BaseModel):
    """The model's answer with the tokens it cost; `truncated` when it stopped at the output-token limit."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    truncated: bool = False


class _Malformed(Exception):
    """A 200 response that is not a chat completion (not JSON, no choices): retried like a glitch."""


def retry_after(exc: BaseException) -> float | None:
    """Seconds an error response asks to wait (`retry-after-ms`, `retry-after` in seconds or as an HTTP date)."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    return parse_retry_after(exc.response.headers)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = (headers.get(name) or "").strip()
        if not value:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        if name == "retry-after":
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    return None


def _detail(body: object) -> str:
    """The `message` of an OpenAI-style error object, else the body itself, on one bounded line."""
    if isinstance(body, Mapping):
        body = body.get("message", body)
    return one_line(str(body or ""), MAX_DETAIL)


def _kind(exc: BaseException) -> FailureKind:
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429:
            return "rate_limit"
        if exc.status_code == 408:
            return "timeout"
        return "server" if exc.status_code >= 500 else "rejected"
    return "malformed"


class LLMClient:
    """`complete(messages)` against the configured endpoint; every failure ends as an LLMError."""

    def __init__(self, settings: LLMSettings) -> None:
        if settings.api_key is None:
            raise LLMError("no LLM API key configured (set XAI_API_KEY, OPENAI_API_KEY or DEVSPACE_LLM__API_KEY)", kind="no_key")
        self.settings = settings
        self.host = urlsplit(settings.base_url).hostname or settings.base_url
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            max_retries=0,
            timeout=settings.timeout,
        )
        self._backoff = wait_exponential(multiplier=INITIAL_BACKOFF, max=settings.max_backoff) + wait_random(0, INITIAL_BACKOFF)

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int | None = None) -> Answer:
        """The model's answer to `messages` (at most `max_tokens` output tokens when given), retried as the module says."""
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            retry=retry_if_exception(self._retryable),
            wait=self._wait,
            before_sleep=self._log_retry,
            reraise=True,
        )
        chars = sum(len(m.get("content", "")) for m in messages)
        logger.debug(f"LLM request to {self.host} ({self.settings.model}): {len(messages)} messages, {chars} chars")
        started = time.monotonic()
        try:
            answer = retrying(self._request, messages, max_tokens)
        except (openai.OpenAIError, _Malformed) as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            error = LLMError(
                self._failure(exc, attempts), kind=_kind(exc), status=getattr(exc, "status_code", None), attempts=attempts
            )
            logger.error(f"LLM request failed: {error}")
            raise error from None
        except LLMError as exc:
            logger.error(f"LLM request failed: {exc}")
            raise
        logger.info(
            f"LLM answered {len(answer.text)} chars in {time.monotonic() - started:.1f}s "
            f"({answer.prompt_tokens} prompt + {answer.completion_tokens} completion tokens)"
        )
        return answer

    def close(self) -> None:
        self._client.close()

    def _request(self, messages: list[dict[str, str]], max_tokens: int | None) -> Answer:
        extra: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens is not None else {}
        try:
            response: object = self._client.chat.completions.create(model=self.settings.model, messages=cast(Any, messages), **extra)
        except json.JSONDecodeError:
            raise _Malformed("the response was not JSON") from None
        if not isinstance(response, ChatCompletion) or not response.choices:
            raise _Malformed("the response held no chat completion")
        choice = response.choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal or choice.finish_reason == REFUSAL_FINISH:
            detail = redact(one_line(refusal or "", MAX_DETAIL))
            raise LLMError(f"the model at {self.host} declined to answer" + (f": {detail}" if detail else ""), kind="refusal")
        if not choice.message.content:
            raise LLMError(f"the LLM API at {self.host} returned an empty answer", kind="empty")
        usage = response.usage
        return Answer(
            text=choice.message.content,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            truncated=choice.finish_reason == "length",
        )

    def _retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, (openai.APIConnectionError, openai.APIResponseValidationError, _Malformed)):  # timeouts are connection errors
            return True
        if not isinstance(exc, openai.APIStatusError):
            return False
        if exc.status_code not in RETRY_STATUSES and exc.status_code < 500:
            return False
        asked = retry_after(exc)
        return asked is None or asked <= self.settings.max_backoff

    def _wait(self, state: RetryCallState) -> float:
        """The jittered exponential backoff, but never less than the server's Retry-After."""
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after(exc) if exc is not None else None
        return min(self.settings.max_backoff, max(asked or 0.0, self._backoff(state)))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        total = self.settings.max_retries + 1
        reason = self._reason(exc) if exc is not None else "unknown"
        logger.warning(f"LLM attempt {state.attempt_number}/{total} failed: {reason}; retrying in {wait:.1f}s")

    def _reason(self, exc: BaseException) -> str:
        """What went wrong, chat-safe."""
        if isinstance(exc, openai.APITimeoutError):
            reason = f"timed out after {self.settings.timeout:g}s"
        elif isinstance(exc, openai.APIConnectionError):
            reason = f"cannot connect to {self.host}"
        elif isinstance(exc, openai.APIStatusError):
            detail = _detail(exc.body)
            reason = f"HTTP {exc.status_code}" + (f": {detail}" if detail else "")
        elif isinstance(exc, _Malformed):
            reason = f"malformed answer: {exc}"
        else:
            reason = _detail(str(exc)) or type(exc).__name__
        return redact(reason)

    def _failure(self, exc: BaseException, attempts: int) -> str:
        asked = retry_after(exc)
        if asked is not None and asked > self.settings.max_backoff:
            return f"the LLM API at {self.host} asks to wait {asked:.0f}s (more than max_backoff): {self._reason(exc)}"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return f"the LLM API at {self.host} failed{tries}: {self._reason(exc)}"
