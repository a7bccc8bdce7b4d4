"""The bridge loop: read the chat, hand complete messages to the orchestrator, post the outbox.

Exactly once: a message is recorded with its commands before anything runs, replies are queued
in the same step that finishes a command, and a reply is marked posted only once the chat shows
it. After a crash, the first read sees our own posts that made it into the chat (by the ref in
their signature) and marks them posted, so nothing is posted twice; the rest is posted then.

Nothing lost: each read is reconciled with the journal by id (`bridge.reconcile`), so a turn the
page shows late, after the answer to it or above turns already read, still runs (once, with a
warning in the log). A read reaches back to the reading position, which never moves past a turn
neither run nor recorded; before any turn is read (an empty chat at the first attach, a catch-up)
it is the chat's start, so a restart reads every turn typed meanwhile, however many. When the turn
read last is gone from the conversation (an edit forked it, an answer was regenerated, a turn
deleted, the chat recreated), the bridge says so once in the chat and goes on from what the chat shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from loguru import logger

from bridge.chat.base import ChatDriver, ChatView
from bridge.chat.errors import BrowserGone, Challenge, ChatError, ErrorBubble, LoggedOut, PageStalled, PostUnconfirmed, RateLimited
from bridge.journal import Journal
from bridge.models import ChatMessage, Reply
from bridge.orchestrator import Orchestrator
from bridge.protocol import post_ref
from bridge.reconcile import Reconciled, position, reconcile
from sandbox.models import Preflight

LAST_SEEN = "last_seen_id"
ATTACHED = "attached"
ATTACHED_TURNS = "attached_turns"
HUMAN_WAIT = 30.0
RATE_LIMIT_WAIT = 300.0
HISTORY_CHANGED = (
    "The chat's history changed under me: message {lost}, the last one I had read, is no longer in this conversation "
    "(an edited or regenerated turn, a deleted one, or the chat recreated under the same id). I go on from what the "
    "chat shows now; nothing already done runs again."
)


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
        reconnect: Callable[[], Awaitable[ChatDriver]] | None = None,
        human_wait: float = HUMAN_WAIT,
        rate_limit_wait: float = RATE_LIMIT_WAIT,
        on_message: Callable[[ChatMessage], None] | None = None,
        on_post: Callable[[str], None] | None = None,
    ) -> None:
        self.driver = driver
        self.orchestrator = orchestrator
        self.journal: Journal = orchestrator.journal
        self.chat_id = chat_id
        self.dry_run = dry_run
        self.catch_up = catch_up
        self.idle_wait = idle_wait
        self.reconnect = reconnect
        self.human_wait = human_wait
        self.rate_limit_wait = rate_limit_wait
        self.on_message = on_message
        self.on_post = on_post
        self._provisional = not driver.chat_id  # a new chat: its id comes with the first send
        self._since: str | None = None  # the reading position: a read reaches back to it (None: the chat's start)
        self._attached: set[str] = set()  # the turns the first attach recorded: what came before the bridge
        self._known: set[str] = set()  # turns of the last window that the journal holds: never read again
        self._preflight: asyncio.Task[Preflight | None] | None = None
        self._preflight_told = False

    async def attach(self) -> None:
        """First attach marks what the chat's end shows as seen, in one step with the reading position after it;
        later attaches resume from the journal."""
        await self.driver.start()
        self._known = set()
        self._since = self.journal.get(self.chat_id, LAST_SEEN)
        if self._since is not None or self.journal.get(self.chat_id, ATTACHED, False):
            logger.info(f"resuming chat {self.chat_id} " + (f"after message {self._since}" if self._since else "from its first turn"))
        elif not self.catch_up:
            existing = await self._take_in()
            with self.journal.tx():
                self.journal.record_seen(self.chat_id, existing)
                self.journal.put(self.chat_id, ATTACHED_TURNS, sorted(self._known))
                self.journal.put(self.chat_id, LAST_SEEN, self._since)
                self.journal.put(self.chat_id, ATTACHED, True)
            logger.info(f"attached to chat {self.chat_id}: {len(existing)} earlier message(s) marked as seen")
        self._attached = set(self.journal.get(self.chat_id, ATTACHED_TURNS, []))
        self.journal.put(self.chat_id, ATTACHED, True)
        if self._preflight is None and self.orchestrator.settings.chat.check_environment:  # builds the base in the background
            self._preflight = asyncio.create_task(asyncio.to_thread(self.orchestrator.preflight))
        await asyncio.to_thread(self.orchestrator.run_pending, self.chat_id)

    async def _take_in(self) -> list[ChatMessage]:
        """What the chat's end shows at the first attach, read until nothing new turns up (an error bubble met on the
        way is recorded and read past); it leaves every turn taken in known and the reading position after them."""
        existing: list[ChatMessage] = []
        while True:
            view = await self._view(None, tail=True)
            if view is None:
                continue
            if not view.messages:
                self._since = position(view, self._known, None)
                return existing
            existing += [self._own(m) for m in view.messages]
            self._known |= {m.id for m in view.messages}

    async def _told_preflight(self) -> None:
        """Once the attach-time environment check is done, queue what it found (the journal is written from here only)."""
        task = self._preflight
        if task is None or self._preflight_told or not task.done():
            return
        self._preflight_told = True
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            logger.warning(f"the environment check at attach failed: {failure}")
        found = None if task.cancelled() or failure is not None else task.result()
        if found is not None:
            await asyncio.to_thread(self.orchestrator.tell_preflight, self.chat_id, found)

    def _adopt_chat_id(self) -> None:
        """A new chat takes the id its UI gives it on the first send (`/` -> `/c/<id>`); the journal follows once."""
        found = self.driver.chat_id
        if not self._provisional or not found:
            return
        self.journal.move_chat(self.chat_id, found)
        logger.info(f"the new chat {self.chat_id} is now chat {found}")
        self.chat_id, self._provisional = found, False

    def _own(self, msg: ChatMessage) -> ChatMessage:
        return msg.model_copy(update={"chat_id": self.chat_id})

    async def step(self) -> int:
        """Read, reconcile with the journal and run new messages; when there were none, post one pending reply."""
        view = await self._view(self._since)
        self._adopt_chat_id()
        if view is None:
            return 1  # an error bubble was recorded: read on at once
        found = reconcile(view, self.journal.recorded(self.chat_id, view.ids), self._attached, self._since)
        self._announce(found)
        for raw in found.run:
            msg = self._own(raw)
            if self.orchestrator.is_own_post(msg):
                self.journal.mark_posted_seen(self.chat_id, post_ref(msg.text), msg.text, msg.id)
            elif self.on_message is not None:
                self.on_message(msg)
            await asyncio.to_thread(self.orchestrator.handle, msg)
        self._known = self.journal.recorded(self.chat_id, view.ids)
        if found.position != self._since:
            self._since = found.position
            self.journal.put(self.chat_id, LAST_SEEN, self._since)
        self.orchestrator.tick()
        await self._told_preflight()
        if not found.run:
            await self.post_next()
        return len(found.run)

    async def _view(self, since: str | None, *, tail: bool = False) -> ChatView | None:
        """What the chat shows, reaching back to `since` (`ChatDriver.read`: a view that lost it was looked at again
        on a freshly loaded page). None when an error bubble was met (it is recorded as seen)."""
        try:
            return await self.driver.read(since, self._known, tail=tail)
        except ErrorBubble as bubble:
            logger.warning(f"the chat UI shows an error: {bubble}")
            self.journal.record_message(ChatMessage(id=bubble.message_id, role="assistant", text=bubble.text, chat_id=self.chat_id), [])
            self._known.add(bubble.message_id)
            return None

    def _announce(self, found: Reconciled) -> None:
        """Log what came out of order, record what is from before the attach, and say once in the chat that the
        history changed (in the same step that moves the reading position off the lost turn)."""
        for late in found.late:
            logger.warning(f"message {late.id} shows up out of order, above message {late.above} read before; running it now")
        if found.record:
            self.journal.record_seen(self.chat_id, [self._own(m) for m in found.record])
            logger.info(f"{len(found.record)} message(s) from before the first attach showed up; marked as seen, not run")
        if found.lost is not None:
            logger.warning(f"message {found.lost}, the last one read, is no longer in chat {self.chat_id}; going on from what it shows")
            with self.journal.tx():
                self.orchestrator.poster.queue(self.chat_id, None, Reply(text=HISTORY_CHANGED.format(lost=found.lost), kind="error"))
                self.journal.put(self.chat_id, LAST_SEEN, found.position)
            self._since = found.position

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
        if self.on_post is not None:
            self.on_post(row.text)
        logger.info(f"posted reply {row.id} as message {posted_id}")
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Stay attached until `stop` is set; typed page states are waited out or recovered from.

        A dead browser is relaunched at once; a logged-out page is reopened after the wait for a person,
        from the saved login, which `devspace login` may have renewed meanwhile. That holds from the first
        attach on: a bridge started before its login arrived waits for it (a container is not restarted).
        """
        attached = False
        relaunch: str | None = None
        while not stop.is_set():
            try:
                if relaunch is not None:
                    await self._relaunch(relaunch)
                    relaunch = None
                elif not attached:
                    await self.attach()
                attached = True
                if await self.step() == 0:
                    await self.driver.wait_for_activity(self.idle_wait)
            except ErrorBubble as exc:
                logger.warning(f"the chat UI shows an error: {exc}")
            except (LoggedOut, Challenge) as exc:
                logger.error(
                    f"{type(exc).__name__}: {exc}; a person must sort this out in the browser (nothing is solved automatically); "
                    f"trying again in {self.human_wait:.0f}s"
                )
                await _sleep(stop, self.human_wait)
                if self.reconnect is not None and (isinstance(exc, LoggedOut) or not attached):  # a page half started: anew
                    relaunch = "reopening the chat with the saved login"
            except RateLimited as exc:
                logger.warning(f"{exc}; replies stay queued, next try in {self.rate_limit_wait:.0f}s")
                await _sleep(stop, self.rate_limit_wait)
            except PostUnconfirmed as exc:
                logger.error(f"{exc}; it will be matched by its ref if it shows up later")
            except PageStalled as exc:
                logger.warning(f"{exc}; reloading")
                await self.driver.refresh()
            except BrowserGone as exc:
                if self.reconnect is None:
                    raise
                relaunch = f"{exc}; relaunching and resuming from the journal"
            except ChatError as exc:
                if not attached:  # a page that never came up for another reason (UI drift, a bad address): the caller says why
                    raise
                logger.error(f"{type(exc).__name__}: {exc}")
                await _sleep(stop, self.human_wait)

    async def _relaunch(self, why: str) -> None:
        """A new driver from `reconnect` (a fresh browser context), attached where the journal left off."""
        assert self.reconnect is not None
        logger.warning(why)
        await _close_quietly(self.driver)
        self.driver = await self.reconnect()
        await self.attach()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):  # unlike wait_for on 3.11, never swallows a cancellation
            await stop.wait()
    except TimeoutError:
        pass


async def _close_quietly(driver: ChatDriver) -> None:
    try:
        await driver.close()
    except Exception as exc:  # the browser is already gone; closing is best effort
        logger.debug(f"closing a dead driver: {exc}")
