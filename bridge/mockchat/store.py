"""The mock chat's server-side state: conversations, sessions, and the assistant's replies being written."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import Iterator
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


class Conversation:
    """One chat: its turns in order (ids never change), per-chat failure switches, live subscribers."""

    def __init__(self, chat_id: str) -> None:
        self.id = chat_id
        self.messages: list[Message] = []
        self.error_next: str | None = None
        self.stall = False
        self.rate_limit: str | None = None
        self._subscribers: set[asyncio.Queue[Message]] = set()

    def add(self, role: Literal["user", "assistant"], markdown: str, status: Status = "done", thinking: str = "") -> Message:
        parent = self.messages[-1].id if self.messages else None
        message = Message(id=str(uuid.uuid4()), role=role, markdown=markdown, status=status, thinking=thinking, parent=parent)
        self.messages.append(message)
        self.publish(message)
        return message

    def page(self, limit: int | None, before: str | None = None) -> tuple[list[Message], bool]:
        """Up to `limit` turns ending just before `before` (or at the end), and whether older ones exist."""
        end = len(self.messages)
        if before is not None:
            end = next((i for i, m in enumerate(self.messages) if m.id == before), end)
        start = 0 if limit is None else max(0, end - limit)
        return self.messages[start:end], start > 0

    def publish(self, message: Message) -> None:
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

    def post(self, chat_id: str, text: str) -> tuple[Message, Message]:
        """A user turn and the assistant's reply to it, which starts streaming."""
        conv = self.conversation(chat_id)
        user = conv.add("user", text)
        answer = conv.add("assistant", "", status="streaming")
        self._tasks[answer.id] = asyncio.get_running_loop().create_task(self._write(conv, answer))
        return user, answer

    async def _write(self, conv: Conversation, answer: Message) -> None:
        history = [Turn(role=m.role, content=m.markdown) for m in conv.messages if m.id != answer.id and m.status == "done"]
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
        for message in self.conversation(chat_id).messages:
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
