"""The port between the bridge and a chat UI: read what the chat shows as identified turns, post text."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from bridge.chat.errors import ErrorBubble, LastSeenMissing
from bridge.models import ChatMessage

WINDOW = 40
"""A read covers at least this many turns at the conversation's end, so a turn placed above turns already seen
(a late delivery, a reply pushed before its question) is found; older places are not looked at again."""


def window_start(ids: Sequence[str], since: str | None, *, tail: bool = False) -> tuple[int, bool]:
    """Where a read's window starts among a conversation's turns (chat order), and whether it reaches `since`.

    Back to `since` and at least the last WINDOW; with `since` None (nothing read yet), from the first turn, or with
    `tail` only the last WINDOW; with a `since` not among the turns, the last WINDOW (not anchored).
    """
    end = max(0, len(ids) - WINDOW)
    if since is None:
        return (end if tail else 0), True
    if since not in ids:
        return end, False
    return min(ids.index(since), end), True


class ChatView(BaseModel):
    """What the chat shows at its end, in chat order: the window a read covered, and the content of its turns the
    caller did not know. Reconciled with a journal by id (`bridge.reconcile`), never by position."""

    ids: list[str] = Field(description="every turn of the window, in chat order, complete or not")
    messages: list[ChatMessage] = Field(
        default_factory=list, description="the window's complete turns not in `known`, in chat order, up to the first incomplete one"
    )
    anchored: bool = Field(
        default=True, description="the window reaches back to `since` (always without one); False: `since` is not in the conversation"
    )


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
    """A live conversation, read as windows of identified turns (`read`).

    A driver that shows turns typed elsewhere only after a reload (a second session of the chat) reloads on its own
    as reads and posts need it; the caller never schedules reloads.

    Raises the typed states of `bridge.chat.errors` (LoggedOut, Challenge, RateLimited, ErrorBubble,
    UIDrift, PageStalled, BrowserGone, ...) instead of timing out.
    """

    @property
    def chat_id(self) -> str:
        """The conversation's id as the UI names it; '' for a new chat that has none until its first send."""

    @property
    def url(self) -> str:
        """Where to reopen the conversation (a new chat's own address once it has one)."""

    @property
    def poll_interval(self) -> float:
        """Seconds between reads when the UI reports no change."""

    async def start(self) -> None:
        """Open (or attach to) the conversation and wait until it is usable."""

    async def read(self, since: str | None, known: Collection[str], *, tail: bool = False) -> ChatView:
        """The turns at the conversation's end in chat order (`window_start`): at least the last WINDOW, and back to
        the reading position `since` when it is further up (a virtualized transcript is scrolled to it); with `since`
        None, nothing was read yet, so back to the conversation's first turn, unless `tail` asks for the last WINDOW
        only (what a first attach takes in). The content of those not in `known`.

        User turns come back with role "developer" (the runner re-tags its own posts as "mcp"). A turn that ended
        in the UI's error bubble raises ErrorBubble once the turns before it were returned. A view that lost `since`
        (not anchored) is one the driver already looked at again on a freshly loaded page where it has one.
        """

    async def wait_for_activity(self, timeout: float) -> bool:
        """Wait until the page reports a change (True) or the poll interval or `timeout` ends (False)."""

    async def post(self, text: str) -> str:
        """Post the whole text as one user turn once the assistant is idle; the new message's id."""

    async def is_idle(self) -> bool:
        """No assistant turn is being written."""

    async def refresh(self) -> None:
        """Reload the conversation now (a stalled page); reads and posts reload on their own when they need to."""

    async def close(self) -> None:
        """Release the page and browser (never the person's own browser)."""


class Cursor:
    """`read_new` over `read` for a driver used without a journal (tests, benchmarks): the complete turns after
    `last_seen_id` not returned before, oldest first (with none yet, what the chat's end shows, as a first attach
    takes in); advances `last_seen_id`. The bridge itself reconciles each `read` with its journal instead
    (`bridge.reconcile`), so a turn shown late is not lost."""

    last_seen_id: str | None = None
    _returned: frozenset[str] = frozenset()

    async def read(self, since: str | None, known: Collection[str], *, tail: bool = False) -> ChatView:
        raise NotImplementedError

    async def read_new(self) -> list[ChatMessage]:
        """Raises LastSeenMissing when `last_seen_id` is not in the conversation."""
        try:
            view = await self.read(self.last_seen_id, self._returned, tail=True)
        except ErrorBubble as bubble:
            self._returned |= {bubble.message_id}
            self.last_seen_id = bubble.message_id
            raise
        if not view.anchored:
            raise LastSeenMissing(f"message {self.last_seen_id} is not in this conversation")
        start = view.ids.index(self.last_seen_id) + 1 if self.last_seen_id in view.ids else 0
        later = set(view.ids[start:])
        new = [m for m in view.messages if m.id in later]
        self._returned = frozenset(view.ids[:start]) | (self._returned & later) | {m.id for m in new}
        if new:
            self.last_seen_id = new[-1].id
        return new
