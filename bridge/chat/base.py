"""The port between the bridge and a chat UI: read identified messages, post text."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bridge.models import ChatMessage


@runtime_checkable
class ChatDriver(Protocol):
    """A live conversation. Reading resumes after `last_seen_id`, which the runner may restore from its journal.

    Raises the typed states of `bridge.chat.errors` (LoggedOut, Challenge, ErrorBubble, UIDrift,
    PageStalled, BrowserGone, ...) instead of timing out.
    """

    last_seen_id: str | None

    async def start(self) -> None:
        """Open (or attach to) the conversation and wait until it is usable."""

    async def read_new(self) -> list[ChatMessage]:
        """Complete messages after the last seen one, oldest first; advances `last_seen_id`.

        User turns come back with role "developer" (the runner re-tags its own posts as "mcp").
        """

    async def wait_for_activity(self, timeout: float) -> bool:
        """Wait until the page reports a change (True) or the poll interval or `timeout` ends (False)."""

    async def post(self, text: str) -> str:
        """Post the whole text as one user turn once the assistant is idle; the new message's id."""

    async def is_idle(self) -> bool:
        """No assistant turn is being written."""

    async def refresh(self) -> None:
        """Reload the conversation; a second session calls it every `timing.refresh_ms` to see turns typed elsewhere."""

    async def close(self) -> None:
        """Release the page and browser (never the person's own browser)."""
