"""Replies' lifecycles from the page's own WebSocket: which reply started, which ended and how.

The profile's `api.stream` names the socket (by URL) and where a JSON frame keeps its event type, the
reply's id and its final status. The end event is the authoritative end of a reply; a page whose
socket opened before the driver was watching (a tab attached over CDP) shows none, and the DOM's
indicators decide instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

from playwright.async_api import Page, WebSocket
from pydantic import BaseModel

from bridge.chat.profile import StreamEvents


class ReplyState(BaseModel):
    status: Literal["streaming", "completed", "failed"]
    error: str | None = None


def dig(frame: Any, path: str) -> Any:
    """The value at a dotted path of nested mappings, or None."""
    for key in path.split("."):
        if not isinstance(frame, dict):
            return None
        frame = frame.get(key)
    return frame


KEPT = 64
"""Replies whose state is remembered, the most recently started ones."""


class ReplyStream:
    """Reads the frames a page receives on its matching sockets; `on_change` runs when a reply starts or ends."""

    def __init__(self, spec: StreamEvents, on_change: Callable[[], None] | None = None) -> None:
        self.spec = spec
        self.on_change = on_change
        self.replies: dict[str, ReplyState] = {}
        self.sockets = 0

    def watch(self, page: Page) -> None:
        page.on("websocket", self._socket)

    def _socket(self, socket: WebSocket) -> None:
        if re.search(self.spec.url, socket.url):
            self.sockets += 1
            socket.on("framereceived", self.feed)

    def feed(self, payload: str | bytes) -> None:
        """One received frame; anything that is not a start or end event of a named reply is ignored."""
        try:
            frame = json.loads(payload)
        except ValueError:
            return
        kind, reply = dig(frame, self.spec.type), dig(frame, self.spec.id)
        if not isinstance(reply, str) or not reply:
            return
        if kind in self.spec.created:
            self.replies[reply] = ReplyState(status="streaming")
        elif kind in self.spec.done:
            status = dig(frame, self.spec.status)
            if status in self.spec.completed:
                self.replies[reply] = ReplyState(status="completed")
            else:
                error = dig(frame, self.spec.error)
                self.replies[reply] = ReplyState(status="failed", error=str(error) if error else f"the reply ended as {status!r}")
        else:
            return
        while len(self.replies) > KEPT:  # hours attached: only the latest replies are ever asked about
            del self.replies[next(iter(self.replies))]
        if self.on_change is not None:
            self.on_change()

    def state(self, reply: str) -> ReplyState | None:
        return self.replies.get(reply)
