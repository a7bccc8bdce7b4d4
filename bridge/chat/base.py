"""The port between the bridge and a chat UI: read identified messages, post text."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from bridge.models import ChatMessage


class Attachment(BaseModel):
    """Where and how to attach: the conversation's address and, for a browser, how to reach it."""

    url: str
    cdp_url: str | None = None
    headed: bool = False
    second_session: bool | None = Field(
        default=None, description="default: a launched browser is a second session, a tab attached over CDP is live"
    )


@runtime_checkable
class ChatDriver(Protocol):
    """A live conversation. Reading resumes after `last_seen_id`, which the runner may restore from its journal.

    Raises the typed states of `bridge.chat.errors` (LoggedOut, Challenge, RateLimited, ErrorBubble,
    UIDrift, PageStalled, BrowserGone, ...) instead of timing out.
    """

    last_seen_id: str | None

    @property
    def chat_id(self) -> str:
        """The conversation's id as the UI names it; '' for a new chat that has none until its first send."""

    @property
    def url(self) -> str:
        """Where to reopen the conversation (a new chat's own address once it has one)."""

    @property
    def poll_interval(self) -> float:
        """Seconds between reads when the UI reports no change."""

    @property
    def refresh_interval(self) -> float | None:
        """Seconds between refreshes that show turns typed elsewhere; None when they arrive live."""

    async def start(self) -> None:
        """Open (or attach to) the conversation and wait until it is usable."""

    async def read_new(self) -> list[ChatMessage]:
        """Complete messages after the last seen one, oldest first, each with its stable id; advances `last_seen_id`.

        User turns come back with role "developer" (the runner re-tags its own posts as "mcp").
        """

    async def wait_for_activity(self, timeout: float) -> bool:
        """Wait until the page reports a change (True) or the poll interval or `timeout` ends (False)."""

    async def post(self, text: str) -> str:
        """Post the whole text as one user turn once the assistant is idle; the new message's id."""

    async def is_idle(self) -> bool:
        """No assistant turn is being written."""

    async def refresh(self) -> None:
        """Reload the conversation; a second session calls it every `refresh_interval` to see turns typed elsewhere."""

    async def close(self) -> None:
        """Release the page and browser (never the person's own browser)."""
