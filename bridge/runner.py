"""The bridge loop: read the chat, hand complete messages to the orchestrator, post the outbox.

Exactly once: a message is recorded with its commands before anything runs, replies are queued
in the same step that finishes a command, and a reply is marked posted only once the chat shows
it. After a crash, the first read sees our own posts that made it into the chat and marks them
posted, so nothing is posted twice; the rest of the outbox is posted then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from loguru import logger

from bridge.chat.base import ChatDriver
from bridge.journal import Journal
from bridge.models import ChatMessage
from bridge.orchestrator import Orchestrator

LAST_SEEN = "last_seen_id"
ATTACHED = "attached"


class Bridge:
    """Keeps one conversation and the orchestrator in step."""

    def __init__(
        self,
        driver: ChatDriver,
        orchestrator: Orchestrator,
        chat_id: str,
        *,
        dry_run: bool = False,
        catch_up: bool = False,
        idle_wait: float = 5.0,
        on_post: Callable[[str], None] | None = None,
    ) -> None:
        self.driver = driver
        self.orchestrator = orchestrator
        self.journal: Journal = orchestrator.journal
        self.chat_id = chat_id
        self.dry_run = dry_run
        self.catch_up = catch_up
        self.idle_wait = idle_wait
        self.on_post = on_post

    async def attach(self) -> None:
        """First attach marks what is already there as seen; later attaches resume from the journal."""
        await self.driver.start()
        last = self.journal.get(self.chat_id, LAST_SEEN)
        if last is not None:
            self.driver.last_seen_id = last
            logger.info(f"resuming chat {self.chat_id} after message {last}")
        elif not self.journal.get(self.chat_id, ATTACHED, False) and not self.catch_up:
            existing = await self.driver.read_new()
            for msg in existing:
                self.journal.record_message(self._own(msg), [])
            if existing:
                self.journal.put(self.chat_id, LAST_SEEN, existing[-1].id)
            logger.info(f"attached to chat {self.chat_id}: {len(existing)} earlier message(s) marked as seen")
        self.journal.put(self.chat_id, ATTACHED, True)

    def _own(self, msg: ChatMessage) -> ChatMessage:
        return msg.model_copy(update={"chat_id": self.chat_id})

    async def step(self) -> int:
        """Read and run new messages; when there were none, post one pending reply."""
        messages = await self.driver.read_new()
        for raw in messages:
            msg = self._own(raw)
            if self.orchestrator.is_mcp(msg):
                self.journal.mark_posted_by_text(self.chat_id, msg.text, msg.id)
            await asyncio.to_thread(self.orchestrator.handle, msg)
            self.journal.put(self.chat_id, LAST_SEEN, msg.id)
        self.orchestrator.tick()
        if not messages:
            await self.post_next()
        return len(messages)

    async def post_next(self) -> bool:
        """Post the oldest queued reply into an idle, up-to-date conversation; True if one was posted."""
        pending = self.journal.pending_replies(self.chat_id)
        if not pending:
            return False
        row = pending[0]
        if self.dry_run:
            print(row.text, flush=True)
            self.journal.mark_posted(row.id, None)
            return True
        if not await self.driver.is_idle():
            return False
        posted_id = await self.driver.post(row.text)
        with self.journal.tx():
            self.journal.mark_posted(row.id, posted_id)
            self.journal.record_message(ChatMessage(id=posted_id, role="mcp", text=row.text, chat_id=self.chat_id), [])
            self.journal.put(self.chat_id, LAST_SEEN, posted_id)
        self.driver.last_seen_id = posted_id
        if self.on_post:
            self.on_post(row.text)
        logger.info(f"posted reply {row.id} as message {posted_id}")
        return True

    async def run(self, stop: asyncio.Event) -> None:
        await self.attach()
        while not stop.is_set():
            count = await self.step()
            if count == 0:
                await self.driver.wait_for_activity(self.idle_wait)
