"""A chat held in memory, for tests of the modules above the driver (Errbot's testbot idea)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Collection
from typing import TYPE_CHECKING

from bridge.chat import markdown
from bridge.chat.base import Attachment, ChatView, Cursor, window_start
from bridge.chat.errors import ChatError, PageStalled
from bridge.models import ChatMessage, CodeBlock, Role

if TYPE_CHECKING:
    from bridge.config import Settings


class InMemoryDriver(Cursor):
    """`push_message` plays the people in the chat; `posted` records what the bridge typed.

    A post also appears as a user turn (role "developer"), as it would in a real chat UI. `messages` is what the
    chat shows, in order: a test may insert, remove or replace turns in it, as a server or an edit would.
    """

    poll_interval = 5.0

    def __init__(self, chat_id: str = "memory") -> None:
        self.chat_id = chat_id
        self.messages: list[ChatMessage] = []
        self.posted: list[str] = []
        self.idle = True
        self.refreshes = 0
        self.started = False
        self._ids = itertools.count(1)
        self._activity = asyncio.Event()
        self._failure: ChatError | None = None

    @property
    def url(self) -> str:
        return f"memory:{self.chat_id}"

    def push_message(
        self,
        text: str,
        role: Role = "developer",
        *,
        code_blocks: list[CodeBlock] | None = None,
        complete: bool = True,
        at: int | None = None,
    ) -> ChatMessage:
        """Add a turn (at the end, or at index `at`); code blocks default to the text's fences, as the browser driver
        reads them."""
        blocks = markdown.fences(text) if code_blocks is None else code_blocks
        message = ChatMessage(id=f"m{next(self._ids)}", role=role, text=text, code_blocks=blocks, complete=complete, chat_id=self.chat_id)
        self.messages.insert(len(self.messages) if at is None else at, message)
        self._activity.set()
        return message

    def finish(self, message_id: str, text: str | None = None) -> None:
        """Mark a streaming turn complete, optionally with its final text."""
        for index, message in enumerate(self.messages):
            if message.id == message_id:
                update = {"complete": True} if text is None else {"complete": True, "text": text, "code_blocks": markdown.fences(text)}
                self.messages[index] = message.model_copy(update=update)
        self._activity.set()

    def fail_next(self, error: ChatError) -> None:
        """The next start, read or post raises this error."""
        self._failure = error

    def _raise_pending(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    async def start(self) -> None:
        self._raise_pending()
        self.started = True

    async def read(self, since: str | None, known: Collection[str], *, tail: bool = False) -> ChatView:
        self._raise_pending()
        self._activity.clear()
        ids = [m.id for m in self.messages]
        start, anchored = window_start(ids, since, tail=tail)
        out: list[ChatMessage] = []
        for message in self.messages[start:]:
            if message.id in known:
                continue
            if not message.complete:
                break
            out.append(message)
        return ChatView(ids=ids[start:], messages=out, anchored=anchored)

    async def wait_for_activity(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._activity.wait()
        except TimeoutError:
            return False
        return True

    async def post(self, text: str) -> str:
        self._raise_pending()
        if not self.idle:
            raise PageStalled("the assistant is still writing")
        self.posted.append(text)
        return self.push_message(text).id

    async def is_idle(self) -> bool:
        return self.idle

    async def refresh(self) -> None:
        self.refreshes += 1

    async def close(self) -> None:
        self.started = False


def create_driver(settings: Settings, attachment: Attachment) -> InMemoryDriver:
    """The registry's entry: `memory:<id>` names the chat; `memory:` is a new chat whose id comes later."""
    return InMemoryDriver(attachment.url.removeprefix("memory:"))
