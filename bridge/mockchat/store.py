"""The mock chat's server-side state: conversations, sessions, and the assistant's replies being written."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import Iterator
from types import EllipsisType
from typing import Literal

from loguru import logger
from pydantic import BaseModel, Field

from bridge.mockchat.assistant import Assistant, AssistantFailure, Thought, Turn

Status = Literal["streaming", "done", "error"]
SESSION_COOKIE = "mock_session"
STALL_POLL = 0.05


class Message(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    markdown: str = ""
    status: Status = "done"
    error: str | None = None
    thinking: str = Field(default="", description="the reasoning shown before the answer (never part of it)")
    parent: str | None = Field(default=None, description="the turn this one answers or follows")
    created: float = Field(default_factory=time.time, description="seconds since the epoch")
    held: bool = Field(default=False, description="written, but not delivered to pages yet (see `Conversation.release`)")
    deleted: bool = False


class Conversation:
    """One chat: every turn ever written as a tree by parent (an edited question or a regenerated answer is a
    sibling of the turn it replaces), the current leaf, per-chat failure switches, live subscribers.

    `messages` is what a page shows: the branch from the root to the current leaf, without deleted turns and
    without held ones (written, not delivered to pages yet: the gap a page has between its load and its
    live-update subscription). Ids never change.
    """

    def __init__(self, chat_id: str) -> None:
        self.id = chat_id
        self.turns: list[Message] = []
        self.leaf: str | None = None
        self.error_next: str | None = None
        self.stall = False
        self.rate_limit: str | None = None
        self._subscribers: set[asyncio.Queue[Message]] = set()

    def branch(self) -> list[Message]:
        """The current branch, root first, held turns included, deleted ones left out."""
        by_id = {m.id: m for m in self.turns}
        chain: list[Message] = []
        node = by_id.get(self.leaf) if self.leaf else None
        while node is not None:
            chain.append(node)
            node = by_id.get(node.parent) if node.parent else None
        return [m for m in reversed(chain) if not m.deleted]

    @property
    def messages(self) -> list[Message]:
        """What a page shows: the current branch without held turns."""
        return [m for m in self.branch() if not m.held]

    def history(self) -> list[Message]:
        """Every turn not deleted, branches included, in the order written (what a history API returns)."""
        return [m for m in self.turns if not m.deleted]

    def find(self, message_id: str) -> Message | None:
        return next((m for m in self.turns if m.id == message_id and not m.deleted), None)

    def add(
        self, role: Literal["user", "assistant"], markdown: str, status: Status = "done", thinking: str = "",
        *, parent: str | None | EllipsisType = ..., held: bool = False,
    ) -> Message:
        """A turn after `parent` (default: the current leaf; None: a first turn); it becomes the leaf. Pushed live
        unless held."""
        message = Message(
            id=str(uuid.uuid4()), role=role, markdown=markdown, status=status, thinking=thinking,
            parent=self.leaf if parent is ... else parent, held=held,
        )
        self.turns.append(message)
        self.leaf = message.id
        self.publish(message)
        return message

    def insert_before(self, target: Message, role: Literal["user", "assistant"], markdown: str) -> Message:
        """A turn the server orders before `target` (as one typed in another tab whose send landed earlier);
        pages see it at their next load, never by live push."""
        message = Message(id=str(uuid.uuid4()), role=role, markdown=markdown, parent=target.parent)
        target.parent = message.id
        self.turns.append(message)
        return message

    def release(self, message: Message) -> None:
        """A held turn becomes part of what pages show, at their next load (it is not pushed)."""
        message.held = False

    def delete(self, message: Message) -> None:
        """The turn disappears from every page and from the history API; the turns after it stay."""
        message.deleted = True

    def clear(self) -> None:
        """The chat recreated under the same id: no turn left."""
        self.turns.clear()
        self.leaf = None

    def page(self, limit: int | None, before: str | None = None) -> tuple[list[Message], bool]:
        """Up to `limit` turns ending just before `before` (or at the end), and whether older ones exist."""
        end = len(self.messages)
        if before is not None:
            end = next((i for i, m in enumerate(self.messages) if m.id == before), end)
        start = 0 if limit is None else max(0, end - limit)
        return self.messages[start:end], start > 0

    def publish(self, message: Message) -> None:
        if message.held:
            return
        for queue in self._subscribers:
            queue.put_nowait(message.model_copy())

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Message]]:
        """A queue that receives a copy of every turn added or changed while the block runs."""
        queue: asyncio.Queue[Message] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)


class ChatRoom:
    """Every conversation, the valid sessions, and the assistant that answers every user turn."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.conversations: dict[str, Conversation] = {}
        self.sessions: set[str] = set()
        self.challenge = False
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def conversation(self, chat_id: str) -> Conversation:
        return self.conversations.setdefault(chat_id, Conversation(chat_id))

    def new_session(self) -> str:
        token = secrets.token_urlsafe(24)
        self.sessions.add(token)
        return token

    def post(
        self, chat_id: str, text: str, *, parent: str | None | EllipsisType = ..., held: bool = False
    ) -> tuple[Message, Message]:
        """A user turn (after `parent`, default the leaf; `held`: not delivered to pages yet) and the assistant's
        reply to it, which starts streaming."""
        conv = self.conversation(chat_id)
        user = conv.add("user", text, parent=parent, held=held)
        return user, self.answer(conv, user)

    def answer(self, conv: Conversation, question: Message) -> Message:
        """The assistant's reply to `question`, streaming from now on; it becomes the leaf."""
        answer = conv.add("assistant", "", status="streaming", parent=question.id)
        self._tasks[answer.id] = asyncio.get_running_loop().create_task(self._write(conv, answer))
        return answer

    def edit(self, chat_id: str, message: Message, text: str) -> tuple[Message, Message]:
        """An earlier user turn edited: the new text is a sibling of the old turn and is answered; the old turn
        and everything after it leave the page (the history API keeps them as the other branch)."""
        return self.post(chat_id, text, parent=message.parent)

    def regenerate(self, chat_id: str, answer: Message) -> Message:
        """A new answer to the same question replaces `answer` (and what followed it) on the page."""
        conv = self.conversation(chat_id)
        question = conv.find(answer.parent or "")
        if question is None:
            raise ValueError("an answer without its question cannot be regenerated")
        return self.answer(conv, question)

    def recreate(self, chat_id: str) -> None:
        """The chat recreated under the same id: replies being written stop, every turn is gone."""
        self.stop(chat_id)
        self.conversation(chat_id).clear()

    async def _write(self, conv: Conversation, answer: Message) -> None:
        history = [Turn(role=m.role, content=m.markdown) for m in conv.branch() if m.id != answer.id and m.status == "done"]
        try:
            if conv.error_next is not None:
                failure, conv.error_next = conv.error_next, None
                raise AssistantFailure(failure)
            async for piece in self.assistant.stream(history):
                while conv.stall:
                    await asyncio.sleep(STALL_POLL)
                if isinstance(piece, Thought):
                    answer.thinking += piece.text
                else:
                    answer.markdown += piece
                conv.publish(answer)
            answer.status = "done"
        except AssistantFailure as exc:
            answer.status, answer.error = "error", str(exc)
        except asyncio.CancelledError:
            answer.status = "done"
        except Exception as exc:  # the mock must keep serving whatever a backend does
            logger.warning(f"mock assistant failed: {exc!r}")
            answer.status, answer.error = "error", "Something went wrong."
        finally:
            self._tasks.pop(answer.id, None)
            conv.publish(answer)

    def stop(self, chat_id: str) -> None:
        """The stop button: the reply being written ends where it is."""
        for message in self.conversation(chat_id).turns:
            task = self._tasks.get(message.id)
            if task is not None:
                task.cancel()

    def reset(self) -> None:
        """Forget conversations and switches (sessions stay valid)."""
        for task in list(self._tasks.values()):
            task.cancel()
        self._tasks.clear()
        self.conversations.clear()
        self.challenge = False
