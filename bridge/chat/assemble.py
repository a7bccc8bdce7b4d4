"""From the reader's payload to ChatMessages: which turns are complete, what their text and code are."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, Field

from bridge.chat import markdown
from bridge.chat.history import HistoryItem
from bridge.models import ChatMessage, CodeBlock, Role

UIRole = Literal["user", "assistant"]


class RawMessage(BaseModel):
    """One message container as the reader JS saw it."""

    id: str | None
    role: UIRole | None
    text: str
    code_blocks: list[CodeBlock] = Field(default_factory=list)
    has_markdown: bool
    error: str | None = None
    finished: bool = True
    raw: str | None = Field(default=None, description="the raw markdown: from the Copy button (copy route) or the history API")
    copied: Literal["ok", "missing", "timeout"] | None = None
    final: bool = Field(default=False, description="the UI's own end-of-reply event was seen: complete without waiting")
    known: bool = Field(default=False, description="a turn the caller knows: listed by id (and role) only, not described")

    def digest(self) -> str:
        return hashlib.sha1(f"{self.text}\0{self.raw}\0{self.error}".encode()).hexdigest()


class PageFlags(BaseModel):
    """The page-level markers that matched (the selector, or the address pattern for a sign-in page)."""

    streaming: str | None = None
    logged_out: str | None = None
    challenge: str | None = None
    rate_limited: str | None = None
    rate_text: str | None = Field(default=None, description="what the rate-limit notice says")
    quiet_ms: float = Field(default=0.0, description="how long the page's DOM has not changed (0 when unknown)")


class ReadResult(PageFlags):
    """The page's state flags and the mounted messages after the last seen one, in chat order."""

    composer: int | None = Field(default=None, description="the composer candidate that matched (checked when no turn is shown)")
    empty: bool = Field(default=False, description="no message container matched at all")
    found: bool = True
    first_id: str | None = None
    at_start: bool = Field(default=True, description="the transcript shows its first turn (always, unless virtualized)")
    at_end: bool = Field(default=True, description="the transcript shows its last turn (always, unless virtualized)")
    messages: list[RawMessage] = Field(default_factory=list)


class ApiResult(PageFlags):
    """The history API's answer as the page fetched it, and what the page mounts."""

    signature: str = Field(description="what the page mounted; unchanged means nothing new to fetch")
    unchanged: bool = False
    status: int = Field(default=0, description="the HTTP status (0: not fetched or failed)")
    error: str | None = None
    items: list[HistoryItem] | None = None
    mounted: list[str] = Field(default_factory=list, description="ids of the mounted turns, in chat order")
    errors: dict[str, str] = Field(default_factory=dict, description="mounted turns showing an error marker: id -> its text")
    incremental: list[str] | None = Field(default=None, description="the ids fetched alone (mounted after the last seen turn), in chat order")


class Stability:
    """Remembers since when each pending message's text has been unchanged (monotonic seconds)."""

    def __init__(self, window_ms: int) -> None:
        self.window = window_ms / 1000
        self._since: dict[str, tuple[str, float]] = {}

    def settled(self, message_id: str, digest: str, now: float, quiet: float = 0.0) -> bool:
        """Whether the text stood still for the window; a settled message is no longer tracked.

        `quiet`: seconds the whole page has not changed, so a text seen for the first time has stood still that long.
        """
        seen = self._since.get(message_id)
        if seen is None or seen[0] != digest:
            self._since[message_id] = seen = (digest, now - quiet)
        if now - seen[1] >= self.window:
            del self._since[message_id]
            return True
        return False

    def remaining(self, now: float) -> float | None:
        """Seconds until the soonest pending message could settle, if any is pending."""
        waits = [since + self.window - now for _, since in self._since.values()]
        return max(0.0, min(waits)) if waits else None

    def forget(self, message_id: str) -> None:
        self._since.pop(message_id, None)

    def retain(self, message_ids: set[str]) -> None:
        """Stop tracking messages no longer on the page."""
        for gone in set(self._since) - message_ids:
            del self._since[gone]


def is_complete(raw: RawMessage, *, is_last: bool, streaming: bool, stability: Stability, now: float, quiet: float = 0.0) -> bool:
    """A user turn is complete when shown; an assistant turn when followed by another turn, when the UI's
    end-of-reply event was seen, or when no streaming marker is visible, it has content and its finished
    marker, and its text stopped changing."""
    if raw.role == "user" or not is_last or raw.final:
        return True
    if streaming or not raw.finished or not (raw.text or raw.error or raw.raw):
        stability.forget(raw.id or "")
        return False
    return stability.settled(raw.id or "", raw.digest(), now, quiet)


def to_chat_message(raw: RawMessage, chat_id: str) -> ChatMessage:
    """The turn as the rest of the bridge sees it; with the copy route, the raw markdown is the text."""
    role: Role = "assistant" if raw.role == "assistant" else "developer"
    if raw.raw is not None:
        return ChatMessage(id=raw.id or "", role=role, text=raw.raw, code_blocks=markdown.fences(raw.raw), chat_id=chat_id)
    return ChatMessage(id=raw.id or "", role=role, text=raw.text, code_blocks=raw.code_blocks, chat_id=chat_id)
