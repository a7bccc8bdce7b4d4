"""The ChatDriver over a real browser page (async Playwright): launched headless, or attached over CDP.

A second session (a browser of its own, logged in as the person) sees turns typed elsewhere only after a
reload; the driver alone decides when to reload (`_reload_if_due`): once the page is `refresh_ms` old, after
a post from it, before a post from a page older than `fresh_ms`, and once more when a read lost its
reading position on a page not just loaded. Never twice back to back: a load resets the cadence.

Two read routes. Where the profile declares the web app's history API (`api`), messages come from
there, fetched by the page with the user's session: exact ids and raw markdown, complete even when
the DOM is virtualized or renders code lossily; a reply is complete when the page's WebSocket says
it ended (`api.stream`), else by the DOM's indicators. Otherwise, or while the API fails, messages
are read from the DOM: turns in chat order, a virtualized transcript scrolled to the last seen turn
and down to its end. Posting always goes through the DOM.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from loguru import logger
from playwright.async_api import Browser, Page

from bridge.chat import markdown
from bridge.chat.assemble import ApiResult, RawMessage, ReadResult, Stability, is_complete, to_chat_message
from bridge.chat.base import WINDOW, Attachment, ChatView, Cursor, window_start
from bridge.chat.errors import Challenge, ErrorBubble, LastSeenMissing, LoggedOut, PageStalled, PostUnconfirmed, RateLimited
from bridge.chat.history import HistoryItem, active_branch, after
from bridge.chat.page import ChatPage, DriverOptions
from bridge.chat.profile import Profile, load_profile
from bridge.chat.recycling import Recycling
from bridge.chat.stream import ReplyStream
from bridge.models import ChatMessage

if TYPE_CHECKING:
    from bridge.config import Settings

__all__ = ["DriverOptions", "PlaywrightDriver", "create_driver", "options_for"]

STEP = 0.05
RECHECK = 1.0
SETTLE = 0.3
SEND_WAIT = 5.0

SET_VALUE_JS = """(el, text) => {
  const proto = el.tagName === 'INPUT' ? HTMLInputElement.prototype : HTMLTextAreaElement.prototype;
  Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, text);
  el.dispatchEvent(new Event('input', { bubbles: true }));
}"""
PASTE_JS = """(el, text) => {
  el.focus();
  const data = new DataTransfer();
  data.setData('text/plain', text);
  el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
}"""


class PlaywrightDriver(Cursor):
    """Reads a conversation as windows of identified turns, in chat order, and posts into it.

    Pass `browser` to open the page in a new context of an already launched browser (closed with the
    driver's context, the browser stays).
    """

    def __init__(self, profile: Profile, options: DriverOptions, *, browser: Browser | None = None) -> None:
        self.profile = profile
        self.options = options
        self._stream = ReplyStream(profile.api.stream, self._woken) if profile.api and profile.api.stream else None
        self._chat = ChatPage(profile, options, browser=browser, on_page=self._hook)
        self._stability = Stability(profile.timing.stability_ms)
        self._tail: tuple[tuple[str | None, str | None], float] | None = None
        self._posted_since_reload = False
        self._loaded_at = 0.0  # when the page's last load ended (monotonic): the cadence counts from there, so a load slower
        # than `refresh_ms` (a huge chat) is not followed by another at once
        self._conversation_url = options.url
        self._api_signature: str | None = None
        self._api_view: ChatView | None = None  # what the last full read of the history API gave, while the page stays the same
        self._api_whole = True  # the next API read fetches the whole history: a load may show turns placed above seen ones
        self._api_down: str | None = None

    def _hook(self, page: Page) -> None:
        if self._stream is not None:
            self._stream.watch(page)

    def _woken(self) -> None:
        self._api_signature = None  # a reply started or ended: fetch again
        self._chat.activity.set()

    @property
    def page(self) -> Page:
        return self._chat.page

    @property
    def chat_id(self) -> str:
        return self.profile.chat_id(self.url)

    @property
    def url(self) -> str:
        """The page's address while it shows a conversation (a new chat moves to its own on the first send), else the one opened."""
        current = self._chat.current_url
        if current is not None and self.profile.chat_id(current):
            self._conversation_url = current
        return self._conversation_url

    @property
    def poll_interval(self) -> float:
        return self.profile.timing.poll_ms / 1000

    @property
    def refresh_interval(self) -> float | None:
        """Seconds after its load at which a second session's page is reloaded to show turns typed elsewhere;
        None for a live page (a tab attached over CDP), which is never reloaded on a cadence."""
        return self.profile.timing.refresh_ms / 1000 if self.options.second_session else None

    @property
    def stream_seen(self) -> bool:
        """Whether a socket carrying the replies' events (`api.stream`) was seen opening."""
        return self._stream is not None and self._stream.sockets > 0

    async def inspect(self, op: str, **arg: Any) -> Any:
        """One call of the reader script (see reader.js): what `devspace doctor` checks the page with."""
        return await self._call(op, **arg)

    @property
    def read_route(self) -> str:
        """'api' while the history API answers for this conversation, else 'dom'."""
        return "api" if self.profile.api is not None and self.chat_id and self._api_down is None else "dom"

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._chat.open()
            await self._check_syntax()
            await self._wait_ready()
        finally:
            self._loaded_at = time.monotonic()
        logger.info(f"chat page ready: {self.options.url} (profile {self.profile.name})")

    async def close(self) -> None:
        await self._chat.close()

    async def __aenter__(self) -> PlaywrightDriver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def refresh(self) -> None:
        try:
            await self._chat.reload()
            self._tail = None
            self._posted_since_reload = False
            self._api_signature = None
            self._api_view = None
            self._api_whole = True
            await self._wait_ready()
        finally:
            self._loaded_at = time.monotonic()

    # --- page state ----------------------------------------------------------------------------

    async def _call(self, op: str, **arg: Any) -> Any:
        return await self._chat.call(op, **arg)

    def _raise_for_state(self, challenge: str | None, logged_out: str | None) -> None:
        if challenge:
            raise Challenge(f"a captcha or bot check is on the page ({challenge}); a person must solve it")
        if logged_out:
            raise LoggedOut(f"the page is logged out ({logged_out}); run `devspace login` again (into a container: `devspace login --import`)")

    async def _check_syntax(self) -> None:
        """A selector the browser cannot parse is drift too, found before any read trips over it."""
        parts = self.profile.selector_parts()
        selectors = [s for _, cands, _ in parts for s in cands]
        counts = iter((await self._call("count", selectors=selectors))["counts"])
        for name, cands, _ in parts:
            invalid = [s for s, n in zip(cands, counts) if n < 0]
            if invalid:
                raise await self._chat.drift(name, invalid, "not valid CSS")

    async def _wait_ready(self) -> None:
        """Until a composer shows and, on a conversation's page, its history is rendered: a single-page app renders
        the history after the composer. Where the history API answers, the page is waited for while the API lists
        turns it does not mount yet; else until the page mounts a turn or stood still for the stability window.
        The logged-out gate or a challenge raise at once; a page about to count as ready is first asked whether its
        session is logged in (the profile's `session`), so a sign-in redirect that lands late is no ready page."""
        deadline = time.monotonic() + self.profile.timing.ready_ms / 1000
        listed: int | None = None
        while True:
            state = await self._call("state")
            self._raise_for_state(state["challenge"], state["logged_out"])
            if state["composer"] is not None:
                ready = bool(state["turns"]) or not self.profile.chat_id(self.page.url) or time.monotonic() > deadline
                if not ready and listed is None:
                    listed = await self._history_size()
                if ready or listed == 0 or (listed is None and state["quiet_ms"] >= self.profile.timing.stability_ms):
                    status = await self.session_status()
                    if status in (401, 403):
                        self._raise_for_state(None, f"its session check {self.profile.session} answered {status}")
                    return
            elif time.monotonic() > deadline:
                raise await self._chat.drift("composer", self.profile.composer.selectors, "the page never showed a composer")
            await asyncio.sleep(STEP / 2)

    async def session_status(self) -> int | None:
        """The HTTP status of the profile's session check asked from the page (0: no answer); None without one."""
        if self.profile.session is None:
            return None
        return int((await self._call("session"))["status"])

    async def _history_size(self) -> int | None:
        """How many turns the history API lists for the page's conversation; None without an API or an answer."""
        if self.profile.api is None or not self.chat_id:
            return None
        result = ApiResult.model_validate(await self._call("api", **self._api_urls()[2], signature=None))
        return None if result.items is None else len(result.items)

    # --- reading ---------------------------------------------------------------------------------

    async def _reload_if_due(self, age: float | None) -> bool:
        """Reload a second session's page when it is `age` seconds old or was posted from since its load (the post
        lands on a page that may lack turns typed elsewhere meanwhile, which the server puts before it: only a
        reload shows the true order). True if it reloaded."""
        if age is None or not (self._posted_since_reload or time.monotonic() - self._loaded_at >= age):
            return False
        await self.refresh()
        return True

    async def read(self, since: str | None, known: Collection[str], *, tail: bool = False) -> ChatView:
        """See `ChatDriver.read`. A second session reloads first when due (`refresh_interval`, or a post since its load); a
        window that lost `since` is read again on a freshly loaded page (a page still loading is not a changed
        history), unless the page was loaded for this read."""
        reloaded = await self._reload_if_due(self.refresh_interval)
        view = await self._read_window(since, known, tail)
        if not view.anchored and not reloaded:
            await self.refresh()
            view = await self._read_window(since, known, tail)
        return view

    async def _read_window(self, since: str | None, known: Collection[str], tail: bool) -> ChatView:
        self._chat.activity.clear()
        if self.read_route == "api":
            found = await self._read_api(since, known, tail)
            if found is not None:
                return found
        return await self._read_dom(since, known, tail)

    async def _read_api(self, since: str | None, known: Collection[str], tail: bool) -> ChatView | None:
        """The window from the history API; None when it did not answer (the DOM is read instead)."""
        api = self.profile.api
        assert api is not None
        url, load, shape = self._api_urls()
        arg = {**shape, "loadUrl": None if self._api_whole else load, "lastSeenId": since, "known": list(known), "signature": self._api_signature}
        whole = {**arg, "url": url, "items": None, "loadUrl": None}
        result = ApiResult.model_validate(await self._call("api", **arg))
        graph = result.incremental is None and shape["url"] != url  # the conversation's shape only, no text
        if result.items is None and (result.incremental is not None or graph):
            logger.debug(f"{load if result.incremental is not None else shape['url']} did not answer ({result.error or result.status}); "
                         "fetching the whole history")
            result, graph = ApiResult.model_validate(await self._call("api", **whole)), False
        self._raise_for_state(result.challenge, result.logged_out)
        if result.unchanged and self._api_view is not None:
            return self._api_view
        texts = result.items
        if graph and result.items is not None and not result.unchanged:  # the text of the window's new turns only, by id
            branch = [item.id for item in active_branch(result.items, result.mounted) if item.id]
            start, _ = window_start(branch, since, tail=tail)
            texts = await self._api_items(load, [turn for turn in branch[start:] if turn not in known])
            if texts is None:
                result = ApiResult.model_validate(await self._call("api", **whole))
                texts = result.items
            else:
                loaded = {item.id: item for item in texts}
                result = result.model_copy(update={"items": [loaded.get(item.id, item) for item in result.items]})
        if result.items is None or texts is None:
            why = result.error or f"HTTP {result.status}"
            if self._api_down != why:
                logger.warning(f"the history API did not answer ({url}: {why}); reading the page instead")
            self._api_down = why
            return None
        if self._api_down is not None:
            logger.info(f"the history API answers again ({url})")
        self._api_down = None
        self._api_whole = self._api_whole and result.incremental is not None
        fetched = {item.id: item for item in texts if item.id and not item.hidden}
        if result.incremental is not None:  # the mounted turns, those not known fetched by id
            window, anchored = result.mounted, True
        else:
            branch = [item.id for item in active_branch(result.items, result.mounted) if item.id]
            start, anchored = window_start(branch, since, tail=tail)
            window = branch[start:]
        raws: list[RawMessage] = []
        for turn in window:
            if turn in known:
                raws.append(RawMessage(id=turn, role=None, text="", has_markdown=True, known=True))
            elif turn in fetched:
                item = fetched[turn]
                if api.role_of(item.role) is None:
                    raise await self._chat.drift("api.role", [api.user, api.assistant], f"turn {turn} has the sender {item.role!r}")
                raws.append(self._from_history(item, result.errors.get(turn)))
            else:
                break  # not stored yet: read it later
        view = await self._accept(raws, window, anchored, streaming=result.streaming is not None, quiet=result.quiet_ms / 1000)
        # fetch again on the next read unless everything the page showed was read
        whole = len(view.messages) == sum(1 for raw in raws if not raw.known) and len(raws) == len(window)
        self._api_signature, self._api_view = (result.signature, view.model_copy(update={"messages": []})) if whole else (None, None)
        return view

    def _api_urls(self) -> tuple[str, str | None, dict[str, str]]:
        """The history's address, the batch load's (if any), and where a read takes the conversation's shape from:
        the graph where the profile has one with a batch load, else the history itself."""
        api = self.profile.api
        assert api is not None
        chat = quote(self.chat_id, safe="")
        url = api.history.format(chat_id=chat)
        load = api.load.format(chat_id=chat) if api.load else None
        shape = {"url": api.graph.format(chat_id=chat), "items": api.graph_items} if api.graph and load else {"url": url}
        return url, load, shape

    async def _api_items(self, load: str | None, ids: list[str]) -> list[HistoryItem] | None:
        """The turns of these ids from the batch load; None (logged) when it did not answer."""
        if not ids:
            return []
        result = ApiResult.model_validate(await self._call("api", url=load, loadUrl=load, ids=ids, signature=None))
        self._raise_for_state(result.challenge, result.logged_out)
        if result.items is None:
            logger.warning(f"{load} did not answer ({result.error or f'HTTP {result.status}'}); reading the page instead")
        return result.items

    def _from_history(self, item: HistoryItem, dom_error: str | None) -> RawMessage:
        assert self.profile.api is not None
        reply = self._stream.state(item.id) if self._stream is not None and item.id else None
        error = reply.error if reply is not None and reply.status == "failed" else dom_error
        return RawMessage(
            id=item.id,
            role=self.profile.api.role_of(item.role),
            text=item.text,
            has_markdown=True,
            raw=item.text,
            error=error,
            finished=not item.partial and (reply is None or reply.status != "streaming"),
            final=reply is not None and reply.status == "completed",
        )

    async def _read(self, last_seen: str | None, known: Collection[str], copy: bool, window: int | None = WINDOW) -> ReadResult:
        """The mounted turns back to `last_seen` and at least the last `window` (None: every mounted turn)."""
        arg = {"lastSeenId": last_seen, "known": list(known), "window": window, "copy": copy}
        result = ReadResult.model_validate(await self._call("read", **arg))
        self._raise_for_state(result.challenge, result.logged_out)
        if result.empty and result.composer is None:
            raise await self._chat.drift("composer", self.profile.composer.selectors, "no composer and no message on the page")
        if result.empty and last_seen is not None:
            # a conversation that had turns shows none: its history may still be loading, else the selector drifted
            deadline = time.monotonic() + self.profile.timing.ready_ms / 1000
            while result.empty and time.monotonic() < deadline:
                await asyncio.sleep(STEP)
                result = ReadResult.model_validate(await self._call("read", **arg))
                self._raise_for_state(result.challenge, result.logged_out)
            if result.empty:
                raise await self._chat.drift("messages.container", self.profile.messages.container, "no message on the page")
        return result

    async def _read_dom(self, since: str | None, known: Collection[str], tail: bool) -> ChatView:
        copy = self.profile.code_route == "copy"
        whole = since is None and not tail  # nothing read yet: from the conversation's first turn
        result = await self._read(since, known, copy, None if whole else WINDOW)
        anchored = True
        if whole and not result.at_start:  # a virtualized transcript mounts the rows near its end only
            await self._scroll_to(None)
            result = await self._read(None, known, copy, None)
        if not result.found and since is not None:
            with contextlib.suppress(LastSeenMissing):
                await self._scroll_to(since)
                result = await self._read(since, known, copy)
            if not result.found:  # not in the conversation: the window at its end, for the caller to reconcile
                anchored = False
                await self._scroll("bottom", SETTLE)
                result = await self._read(None, known, copy)
        raws = list(result.messages)
        while not result.at_end:  # a virtualized transcript: the turns below are not mounted yet
            anchor = raws[-1].id if raws else since
            if anchor is None or not (await self._scroll("down", SETTLE))["moved"]:
                break
            result = await self._read(anchor, known, copy)
            if not result.found:
                raise PageStalled(f"message {anchor} vanished while the transcript was scrolled down")
            listed = {raw.id for raw in raws}
            raws += [raw for raw in result.messages if raw.id not in listed]
        window = [raw.id for raw in raws if raw.id is not None]
        return await self._accept(raws, window, anchored, streaming=result.streaming is not None, quiet=result.quiet_ms / 1000)

    async def _accept(self, raws: list[RawMessage], window: list[str], anchored: bool, *, streaming: bool, quiet: float) -> ChatView:
        """The view: the window's ids, and its complete turns not known, in order, up to the first that is not."""
        now = time.monotonic()
        chat_id = self.chat_id
        copy = self.profile.code_route == "copy"
        self._stability.retain({raw.id for raw in raws if raw.id and not raw.known})
        out: list[ChatMessage] = []
        for index, raw in enumerate(raws):
            if raw.known:
                continue
            is_last = index == len(window) - 1
            await self._check_shape(raw, is_last=is_last)
            if not is_complete(raw, is_last=is_last, streaming=streaming, stability=self._stability, now=now, quiet=quiet):
                break
            if raw.error is not None:
                if out:
                    break
                raise ErrorBubble(raw.id or "", raw.error)
            if copy and raw.raw is None and raw.copied != "ok":
                detail = "no Copy button on a complete turn" if raw.copied == "missing" else "the clipboard stayed unchanged"
                raise await self._chat.drift("messages.copy_button", self.profile.messages.copy_button, detail)
            out.append(to_chat_message(raw, chat_id))
        if out:
            logger.debug(f"read {len(out)} new message(s), last {out[-1].id}")
        return ChatView(ids=window, messages=out, anchored=anchored)

    async def _check_shape(self, raw: RawMessage, *, is_last: bool) -> None:
        """Every turn needs an id and a role; a turn needs its markdown element, except the last assistant turn (its
        answer may not be mounted yet: it stays incomplete until it is)."""
        m = self.profile.messages
        if raw.id is None:
            raise await self._chat.drift("messages.id", [f"[{m.id.attribute}] ~ {m.id.pattern}"], "a message without an id")
        if raw.role is None:
            raise await self._chat.drift("messages.role", m.user + m.assistant, f"message {raw.id} is neither user nor assistant")
        if not raw.has_markdown and raw.error is None and (raw.role == "user" or not is_last):
            raise await self._chat.drift("messages.markdown", m.markdown, f"message {raw.id} has no markdown element")

    async def _scroll(self, direction: str, patience: float, target: str | None = None) -> dict[str, Any]:
        """Scroll the transcript and wait (up to `patience` s) for the page to mount other turns; the scroll's result
        with what the page mounts after it (`found`: whether `target` is mounted)."""
        moved = await self._call("scroll", direction=direction)
        if moved is None:
            return {"moved": False, "found": False, "changed": False}
        deadline = time.monotonic() + patience
        while True:
            probe = await self._call("probe", lastSeenId=target)
            changed = probe["signature"] != moved["signature"]
            if changed or time.monotonic() > deadline:
                return {**probe, "moved": moved["moved"], "changed": changed}
            await asyncio.sleep(STEP / 2)

    async def _scroll_to(self, message_id: str | None) -> None:
        """Scroll a virtualized or lazily loaded history up until the turn is mounted (None: to the conversation's
        first turn, straight to the top); LastSeenMissing when the top holds no such turn."""
        logger.info(f"message {message_id} is not mounted in the page; scrolling up" if message_id else "scrolling to the first turn")
        direction = "up" if message_id else "top"
        while True:
            probe = await self._scroll(direction, SETTLE, message_id)
            if probe["found"]:
                return
            if not probe["moved"] and not probe["changed"]:
                # at the top: a lazy history may still load older turns
                probe = await self._scroll(direction, self.profile.timing.scroll_ms / 1000, message_id)
                if probe["found"]:
                    return
                if not probe["changed"]:
                    if message_id is None:
                        return
                    raise LastSeenMissing(f"message {message_id} is not in this conversation")

    async def wait_for_activity(self, timeout: float) -> bool:
        """See `ChatDriver.wait_for_activity`; a second session's wait also ends when its page is due for a reload."""
        now = time.monotonic()
        limit = min(timeout, self.profile.timing.poll_ms / 1000)
        if self.refresh_interval is not None:
            limit = min(limit, self._loaded_at + self.refresh_interval - now)
        pending = self._stability.remaining(now)
        tail = self._tail[1] + self.profile.timing.stability_ms / 1000 - now if self._tail is not None else 0.0
        if tail > 0:  # is_idle is waiting for the last turn to stand still
            pending = tail if pending is None else min(pending, tail)
        if pending is not None:
            limit = min(limit, max(0.0, pending) + STEP)
        try:
            async with asyncio.timeout(max(0.0, limit)):  # unlike wait_for on 3.11, never swallows a cancellation
                await self._chat.activity.wait()
        except TimeoutError:
            return False
        return True

    async def is_idle(self) -> bool:
        """No streaming marker, and the last turn ended (its end event) or its text stood still for the stability window."""
        return await self._idle_in() == 0.0

    async def _state(self) -> dict[str, Any]:
        """The page's state with the transcript at its end, so the last mounted turn is the conversation's last."""
        state = await self._call("state")
        if not state["at_end"]:
            await self._scroll("bottom", SETTLE)
            state = await self._call("state")
        return dict(state)

    async def _idle_in(self) -> float | None:
        """Seconds until the page counts as idle if nothing changes (0.0: idle now); None while the assistant streams."""
        state = await self._state()
        self._raise_for_state(state["challenge"], state["logged_out"])
        if state["streaming"]:
            self._tail = None
            return None
        if state["tail_id"] is None:
            return 0.0  # an empty conversation: nothing is being written
        reply = self._stream.state(state["tail_id"]) if self._stream is not None else None
        if reply is not None and reply.status != "streaming":
            return 0.0
        key = (state["tail_id"], state["tail_digest"])
        now = time.monotonic()
        if self._tail is None or self._tail[0] != key:
            self._tail = (key, now - float(state.get("quiet_ms") or 0) / 1000)  # unchanged since the page last changed
        return max(0.0, self._tail[1] + self.profile.timing.stability_ms / 1000 - now)

    # --- posting ---------------------------------------------------------------------------------

    async def _wait_idle(self) -> None:
        deadline = time.monotonic() + self.profile.timing.idle_ms / 1000
        while (wait := await self._idle_in()) != 0.0:
            if time.monotonic() > deadline:
                raise PageStalled(f"the assistant was still writing after {self.profile.timing.idle_ms / 1000:.0f}s; not posting")
            await asyncio.sleep(STEP if wait is None else min(wait, STEP))

    async def post(self, text: str) -> str:
        """See `ChatDriver.post`. A second session posts from a page loaded at most `fresh_ms` ago (and not posted from
        since), else it reloads first: a page that missed newer turns could fork the conversation."""
        if self.refresh_interval is not None:
            await self._reload_if_due(min(self.refresh_interval, self.profile.timing.fresh_ms / 1000))
        await self._wait_idle()
        state = await self._state()
        self._raise_for_limit(state)
        before = state["tail_id"]
        confirm = self.profile.timing.confirm_ms / 1000
        await self.insert(text)
        await self._click_send()
        self._posted_since_reload = self.options.second_session
        found = await self._confirm(before, text, confirm)
        if found is None:
            logger.warning("post not confirmed in time; looking again before any retry")
            found = await self._confirm(before, text, RECHECK)
        if found is None and markdown.same_post(text, (await self._composer())["text"]):
            logger.warning("the send did not register (text still in the composer); sending again")
            await self._click_send()
            found = await self._confirm(before, text, confirm)
        if found is None:
            raise PostUnconfirmed(f"a post of {len(text)} chars never showed as a turn; not retried")
        logger.info(f"posted {len(text)} chars as message {found}")
        return found

    def _raise_for_limit(self, flags: dict[str, Any]) -> None:
        if flags.get("rate_limited"):
            raise RateLimited(flags.get("rate_text") or flags["rate_limited"])

    async def _composer(self) -> dict[str, Any]:
        found = await self._call("composer")
        if found is None:
            raise await self._chat.drift("composer", self.profile.composer.selectors)
        return dict(found)

    async def insert(self, text: str) -> None:
        """The whole text into the composer in one step, never key by key (Enter would send early); not sent."""
        composer = await self._composer()
        box = self.page.locator(self.profile.composer.selectors[composer["index"]]).filter(visible=True).nth(composer["nth"])
        async with self._chat.guard("insert"):
            if composer["kind"] == "textarea":
                await box.evaluate(SET_VALUE_JS, text)
                return
            await box.click()
            if composer["text"].strip():
                await box.press("ControlOrMeta+a")
                await box.press("Delete")
            if self.profile.composer.insert == "paste":
                await box.evaluate(PASTE_JS, text)
            else:
                await self.page.keyboard.insert_text(text)

    async def _click_send(self) -> None:
        """Click the send button once it shows (some UIs show it only after the text registered)."""
        deadline = time.monotonic() + SEND_WAIT
        while (found := await self._call("send")) is None:
            self._raise_for_limit(await self._call("state"))
            if time.monotonic() > deadline:
                raise await self._chat.drift("send", self.profile.send, "no visible, enabled send button after the text was inserted")
            await asyncio.sleep(STEP / 2)
        async with self._chat.guard("send"):
            await self.page.locator(self.profile.send[found["index"]]).filter(visible=True).nth(found["nth"]).click()

    async def _confirm(self, before: str | None, text: str, timeout: float) -> str | None:
        """The id of a new user turn after `before` (the last turn when posting) showing the posted text, if one
        appears in time: from the history API where it answers, else from the page."""
        deadline = time.monotonic() + timeout
        while True:
            found = await self._find_post(before, text)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(STEP / 2)

    async def _find_post(self, before: str | None, text: str) -> str | None:
        if self.read_route == "api":
            api = self.profile.api
            assert api is not None
            url, load, shape = self._api_urls()
            result = ApiResult.model_validate(await self._call("api", **shape, signature=None))
            self._raise_for_state(result.challenge, result.logged_out)
            self._raise_for_limit(result.model_dump())
            if result.items is not None:
                new = [i for i in after(active_branch(result.items, result.mounted), before) or [] if api.role_of(i.role) == "user"]
                if shape["url"] != url:  # the graph has no text: the new user turns' by id
                    new = await self._api_items(load, [i.id for i in new if i.id]) or []
                return next((i.id for i in new if i.text == text), None)
        # the turns after `before` (all of them in a chat that had none)
        arg = {"lastSeenId": before, "known": [before] if before else [], "window": 0 if before else None, "copy": False}
        result = ReadResult.model_validate(await self._call("read", **arg))
        self._raise_for_state(result.challenge, result.logged_out)
        self._raise_for_limit(result.model_dump())
        mine = [raw.id for raw in result.messages if self._shows_post(raw, text)]
        if not mine and self.profile.messages.virtualized and (not result.found or before is None):
            # a long reply pushed our turn (and the one before it) out of the mounted rows: bring them back
            with contextlib.suppress(LastSeenMissing):
                await (self._scroll_to(before) if before is not None else self._scroll("top", SETTLE))
                result = ReadResult.model_validate(await self._call("read", **arg))
                mine = [raw.id for raw in result.messages if self._shows_post(raw, text)]
                await self._scroll("bottom", SETTLE)
        return mine[0] if mine else None

    @staticmethod
    def _shows_post(raw: RawMessage, text: str) -> bool:
        return not raw.known and raw.role == "user" and raw.id is not None and markdown.same_post(text, raw.text)


def options_for(settings: Settings, attachment: Attachment) -> DriverOptions:
    """How to open the chat from the settings: the saved login, the browser, where drift artifacts go, how often it
    is renewed."""
    state = settings.chat.storage_state
    second = attachment.second_session if attachment.second_session is not None else attachment.cdp_url is None
    return DriverOptions(
        url=attachment.url,
        storage_state=state if state is not None and state.is_file() else None,
        cdp_url=attachment.cdp_url,
        chromium=settings.chat.chromium,
        headless=not attachment.headed,
        artifacts_dir=settings.home / "artifacts",
        second_session=second,
        **settings.chat.model_dump(include=set(Recycling.model_fields)),
    )


def create_driver(settings: Settings, attachment: Attachment) -> PlaywrightDriver:
    """The registry's entry: the settings' profile on a page of a launched browser or of the person's over CDP."""
    return PlaywrightDriver(load_profile(settings.chat.profile, settings.chat.selectors_file), options_for(settings, attachment))
