"""The ChatDriver over a real browser page (async Playwright): launched headless, or attached over CDP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from loguru import logger
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from pydantic import BaseModel, Field

from bridge.chat import markdown
from bridge.chat.base import Attachment
from bridge.chat.assemble import RawMessage, ReadResult, Stability, is_complete, to_chat_message
from bridge.chat.errors import BrowserGone, Challenge, ErrorBubble, LastSeenMissing, LoggedOut, PageStalled, PostUnconfirmed, UIDrift
from bridge.chat.launch import launch
from bridge.chat.login_secrets import register_login_secrets
from bridge.chat.profile import Profile, load_profile
from bridge.models import ChatMessage

if TYPE_CHECKING:
    from bridge.config import Settings

HERE = Path(__file__).parent
READER_JS = (HERE / "reader.js").read_text(encoding="utf-8")
OBSERVER_JS = (HERE / "observer.js").read_text(encoding="utf-8")
CALL_TIMEOUT = 60.0
STEP = 0.05
RECHECK = 1.0
CLIPBOARD = ["clipboard-read", "clipboard-write"]
CLOSED = ("has been closed", "Target closed", "Browser closed", "browser has disconnected", "Page crashed")

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


class DriverOptions(BaseModel):
    url: str = Field(description="the conversation's URL (also how the tab is found over CDP)")
    storage_state: Path | None = Field(default=None, description="the saved login (see `devspace login`)")
    cdp_url: str | None = Field(default=None, description="attach to the person's running browser instead of launching one")
    chromium: Path | None = Field(default=None, description="default: DEVSPACE_CHROMIUM, else chromium on PATH")
    headless: bool = True
    artifacts_dir: Path = Field(default=Path("devspace-artifacts"), description="where UI drift leaves a screenshot and the HTML")
    second_session: bool = Field(default=False, description="a separate session: reload before posting to see others' turns")


class PlaywrightDriver:
    """Reads a conversation as identified messages and posts into it, one page round trip per read.

    Pass `browser` to open the page in a new context of an already launched browser (closed with the
    driver's context, the browser stays).
    """

    def __init__(self, profile: Profile, options: DriverOptions, *, browser: Browser | None = None) -> None:
        self.profile = profile
        self.options = options
        self.last_seen_id: str | None = None
        self._browser = browser
        self._owns_browser = browser is None
        self._pw: Playwright | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._attached = False
        self._gone: str | None = None
        self._activity = asyncio.Event()
        self._binding = f"__devspaceActivity_{secrets.token_hex(4)}"
        self._stability = Stability(profile.timing.stability_ms)
        self._tail: tuple[tuple[str | None, str | None], float] | None = None
        self._js_profile = profile.model_dump(mode="json")
        self._posted_since_reload = False
        self._conversation_url = options.url

    @property
    def page(self) -> Page:
        if self._page is None:
            raise BrowserGone("the driver is not started")
        return self._page

    @property
    def chat_id(self) -> str:
        return self.profile.chat_id(self.url)

    @property
    def url(self) -> str:
        """The page's address while it shows a conversation (a new chat moves to its own on the first send), else the one opened."""
        if self._page is not None and self.profile.chat_id(self._page.url):
            self._conversation_url = self._page.url
        return self._conversation_url

    @property
    def poll_interval(self) -> float:
        return self.profile.timing.poll_ms / 1000

    @property
    def refresh_interval(self) -> float | None:
        return self.profile.timing.refresh_ms / 1000 if self.options.second_session else None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        async with self._guard("start"):
            if self.options.cdp_url:
                await self._attach(self.options.cdp_url)
            else:
                await self._open()
            await self.page.evaluate(f"({OBSERVER_JS})({json.dumps(self._binding)})")
        await self._check_syntax()
        await self._wait_ready()
        logger.info(f"chat page ready: {self.options.url} (profile {self.profile.name})")

    async def _open(self) -> None:
        if self._browser is None:
            self._pw = await async_playwright().start()
            self._browser = await launch(self._pw, self.options.headless, self.options.chromium)
        state = self.options.storage_state
        if state is not None:
            register_login_secrets(state)  # read at every (re)launch: a renewed login's cookies are masked too
        self._context = await self._browser.new_context(storage_state=str(state) if state else None)
        await self._grant_clipboard(self._context)
        page = await self._context.new_page()
        await self._watch(page)
        await page.goto(self.options.url, wait_until="domcontentloaded")

    async def _attach(self, cdp_url: str) -> None:
        self._pw = await async_playwright().start()
        self._browser = await self._pw.chromium.connect_over_cdp(cdp_url)
        self._attached = True
        pages = [p for ctx in self._browser.contexts for p in ctx.pages]
        page = next((p for p in pages if p.url.startswith(self.options.url)), None)
        if page is None:
            logger.warning(f"no open tab shows {self.options.url}; opening one")
            context = self._browser.contexts[0] if self._browser.contexts else await self._browser.new_context()
            page = await context.new_page()
            await self._watch(page)
            await page.goto(self.options.url, wait_until="domcontentloaded")
        else:
            await self._watch(page)
        await self._grant_clipboard(page.context)

    async def _grant_clipboard(self, context: BrowserContext) -> None:
        if self.profile.code_route == "copy":
            parts = urlsplit(self.options.url)
            await context.grant_permissions(CLIPBOARD, origin=f"{parts.scheme}://{parts.netloc}")

    async def _watch(self, page: Page) -> None:
        """DOM changes wake `wait_for_activity`; a closed or crashed page is remembered."""
        self._page = page
        await page.expose_binding(self._binding, lambda source: self._activity.set())
        await page.add_init_script(f"({OBSERVER_JS})({json.dumps(self._binding)})")
        page.on("close", lambda _: self._mark_gone("the chat page was closed"))
        page.on("crash", lambda _: self._mark_gone("the chat page crashed"))

    def _mark_gone(self, why: str) -> None:
        self._gone = why
        self._activity.set()

    async def close(self) -> None:
        with contextlib.suppress(PlaywrightError):
            if self._attached and self._browser is not None:
                await self._browser.close()  # over CDP this only disconnects; the person's browser stays
            elif self._context is not None:
                await self._context.close()
                if self._owns_browser and self._browser is not None:
                    await self._browser.close()
        if self._pw is not None:
            await self._pw.stop()
        self._page = self._context = self._pw = None
        self._browser = None if self._owns_browser or self._attached else self._browser

    async def __aenter__(self) -> PlaywrightDriver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def refresh(self) -> None:
        async with self._guard("reload"):
            await self.page.reload(wait_until="domcontentloaded")
        self._tail = None
        self._posted_since_reload = False
        await self._wait_ready()

    # --- page calls ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _guard(self, what: str) -> AsyncIterator[None]:
        """Playwright failures as typed states: closed -> BrowserGone, timeout -> PageStalled."""
        if self._gone:
            raise BrowserGone(self._gone)
        try:
            yield
        except PlaywrightTimeout as exc:
            raise PageStalled(f"{what}: {exc.message}") from exc
        except PlaywrightError as exc:
            if self._gone or any(mark in exc.message for mark in CLOSED):
                raise BrowserGone(f"{what}: {self._gone or exc.message}") from exc
            raise

    async def _call(self, op: str, **arg: Any) -> Any:
        """One round trip to the reader JS; a navigation in between is waited out and the call made again."""
        payload = {"op": op, "profile": self._js_profile, **arg}
        try:
            return await self._evaluate(op, payload)
        except PlaywrightError as exc:
            if "context was destroyed" not in exc.message:
                raise
        async with self._guard("load"):
            await self.page.wait_for_load_state("domcontentloaded")
        return await self._evaluate(op, payload)

    async def _evaluate(self, op: str, payload: dict[str, Any]) -> Any:
        try:
            async with self._guard(op):
                return await asyncio.wait_for(self.page.evaluate(READER_JS, payload), CALL_TIMEOUT)
        except TimeoutError as exc:
            raise PageStalled(f"the page did not answer '{op}' within {CALL_TIMEOUT:.0f}s") from exc

    def _raise_for_state(self, challenge: str | None, logged_out: str | None) -> None:
        if challenge:
            raise Challenge(f"a captcha or bot check is on the page ({challenge}); a person must solve it")
        if logged_out:
            raise LoggedOut(f"the page is logged out ({logged_out}); run `devspace login` again")

    async def _drift(self, name: str, selectors: list[str], detail: str = "") -> UIDrift:
        """A UIDrift carrying a screenshot and the page's HTML, saved under the artifacts folder."""
        folder = self.options.artifacts_dir
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"drift-{time.strftime('%Y%m%d-%H%M%S')}-{re.sub(r'[^A-Za-z0-9_-]+', '_', name)}"
        png, html = folder / f"{stem}.png", folder / f"{stem}.html"
        saved: list[Path] = []
        with contextlib.suppress(PlaywrightError):
            await self.page.screenshot(path=png)
            saved.append(png)
            html.write_text(await self.page.content(), encoding="utf-8")
            saved.append(html)
        error = UIDrift(name, selectors, saved, detail)
        logger.error(f"UI drift: {error} (saved {', '.join(map(str, saved)) or 'nothing'})")
        return error

    async def _check_syntax(self) -> None:
        """A selector the browser cannot parse is drift too, found before any read trips over it."""
        parts = self.profile.selector_parts()
        selectors = [s for _, cands, _ in parts for s in cands]
        counts = iter((await self._call("count", selectors=selectors))["counts"])
        for name, cands, _ in parts:
            invalid = [s for s, n in zip(cands, counts) if n < 0]
            if invalid:
                raise await self._drift(name, invalid, "not valid CSS")

    async def _wait_ready(self) -> None:
        """Until the composer shows; the logged-out gate or a challenge raise at once."""
        deadline = time.monotonic() + self.profile.timing.ready_ms / 1000
        while True:
            state = await self._call("state")
            self._raise_for_state(state["challenge"], state["logged_out"])
            if state["composer"] is not None:
                return
            if time.monotonic() > deadline:
                raise await self._drift("composer", self.profile.composer.selectors, "the page never showed a composer")
            await asyncio.sleep(STEP / 2)

    # --- reading ---------------------------------------------------------------------------------

    async def _read(self, last_seen: str | None, copy: bool) -> ReadResult:
        result = ReadResult.model_validate(await self._call("read", lastSeenId=last_seen, copy=copy))
        self._raise_for_state(result.challenge, result.logged_out)
        if result.empty and result.composer is None:
            raise await self._drift("composer", self.profile.composer.selectors, "no composer and no message on the page")
        if result.empty and last_seen is not None:
            raise await self._drift("messages.container", self.profile.messages.container, "no message on the page")
        return result

    async def read_new(self) -> list[ChatMessage]:
        if self._posted_since_reload:
            # A second session's post lands on a page that may lack turns typed elsewhere meanwhile, which the
            # server puts before it: only a reload shows the true order, so nothing is read past our post before.
            await self.refresh()
        self._activity.clear()
        copy = self.profile.code_route == "copy"
        result = await self._read(self.last_seen_id, copy)
        if not result.found:
            await self._scroll_to_last_seen(result.first_id)
            result = await self._read(self.last_seen_id, copy)
        now = time.monotonic()
        chat_id = self.chat_id
        streaming = result.streaming is not None
        self._stability.retain({raw.id for raw in result.messages if raw.id})
        out: list[ChatMessage] = []
        for index, raw in enumerate(result.messages):
            is_last = index == len(result.messages) - 1
            await self._check_shape(raw, is_last=is_last, streaming=streaming)
            if not is_complete(raw, is_last=is_last, streaming=streaming, stability=self._stability, now=now, quiet=result.quiet_ms / 1000):
                break
            if raw.error is not None:
                if out:
                    break
                self.last_seen_id = raw.id
                raise ErrorBubble(raw.id or "", raw.error)
            if copy and raw.copied != "ok":
                detail = "no Copy button on a complete turn" if raw.copied == "missing" else "the clipboard stayed unchanged"
                raise await self._drift("messages.copy_button", self.profile.messages.copy_button, detail)
            out.append(to_chat_message(raw, chat_id))
        if out:
            self.last_seen_id = out[-1].id
            logger.debug(f"read {len(out)} new message(s), last {self.last_seen_id}")
        return out

    async def _check_shape(self, raw: RawMessage, *, is_last: bool, streaming: bool) -> None:
        """Every turn needs an id and a role; a finished turn needs its markdown element."""
        m = self.profile.messages
        if raw.id is None:
            raise await self._drift("messages.id", [f"[{m.id.attribute}] ~ {m.id.pattern}"], "a message without an id")
        if raw.role is None:
            raise await self._drift("messages.role", m.user + m.assistant, f"message {raw.id} is neither user nor assistant")
        if not raw.has_markdown and raw.error is None and (raw.role == "user" or not is_last or not streaming):
            raise await self._drift("messages.markdown", m.markdown, f"message {raw.id} has no markdown element")

    async def _scroll_to_last_seen(self, first_id: str | None) -> None:
        """Scroll a virtualized history up until the last seen message is on the page."""
        logger.info(f"last seen message {self.last_seen_id} is not on the page; scrolling up")
        while True:
            await self._call("scroll")
            deadline = time.monotonic() + self.profile.timing.scroll_ms / 1000
            while True:
                probe = await self._call("probe", lastSeenId=self.last_seen_id)
                if probe["found"]:
                    return
                if probe["first_id"] != first_id:
                    first_id = probe["first_id"]
                    break
                if time.monotonic() > deadline:
                    raise LastSeenMissing(f"message {self.last_seen_id} is not in this conversation")
                await asyncio.sleep(STEP)

    async def wait_for_activity(self, timeout: float) -> bool:
        now = time.monotonic()
        limit = min(timeout, self.profile.timing.poll_ms / 1000)
        pending = self._stability.remaining(now)
        tail = self._tail[1] + self.profile.timing.stability_ms / 1000 - now if self._tail is not None else 0.0
        if tail > 0:  # is_idle is waiting for the last turn to stand still
            pending = tail if pending is None else min(pending, tail)
        if pending is not None:
            limit = min(limit, max(0.0, pending) + STEP)
        try:
            await asyncio.wait_for(self._activity.wait(), max(0.0, limit))
        except TimeoutError:
            return False
        return True

    async def is_idle(self) -> bool:
        """No streaming marker, and the last turn's text unchanged for the stability window."""
        return await self._idle_in() == 0.0

    async def _idle_in(self) -> float | None:
        """Seconds until the page counts as idle if nothing changes (0.0: idle now); None while the assistant streams."""
        state = await self._call("state")
        self._raise_for_state(state["challenge"], state["logged_out"])
        if state["streaming"]:
            self._tail = None
            return None
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
        if self.options.second_session:
            await self.refresh()
        await self._wait_idle()
        before = (await self._call("state"))["tail_id"]
        confirm = self.profile.timing.confirm_ms / 1000
        await self._insert(text)
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

    async def _composer(self) -> dict[str, Any]:
        found = await self._call("composer")
        if found is None:
            raise await self._drift("composer", self.profile.composer.selectors)
        return dict(found)

    async def _insert(self, text: str) -> None:
        """The whole text in one step, never key by key (Enter would send early)."""
        composer = await self._composer()
        box = self.page.locator(self.profile.composer.selectors[composer["index"]]).first
        async with self._guard("insert"):
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
        index = await self._call("send")
        if index is None:
            raise await self._drift("send", self.profile.send)
        async with self._guard("send"):
            await self.page.locator(self.profile.send[index]).first.click()

    async def _confirm(self, before: str | None, text: str, timeout: float) -> str | None:
        """The id of a new user turn after `before` showing the posted text, if one appears in time."""
        deadline = time.monotonic() + timeout
        while True:
            result = ReadResult.model_validate(await self._call("read", lastSeenId=before, copy=False))
            self._raise_for_state(result.challenge, result.logged_out)
            for raw in result.messages:
                if raw.role == "user" and raw.id and markdown.same_post(text, raw.text):
                    return raw.id
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(STEP / 2)


def options_for(settings: Settings, attachment: Attachment) -> DriverOptions:
    """How to open the chat from the settings: the saved login, the browser, where drift artifacts go."""
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
    )


def create_driver(settings: Settings, attachment: Attachment) -> PlaywrightDriver:
    """The registry's entry: the settings' profile on a page of a launched browser or of the person's over CDP."""
    return PlaywrightDriver(load_profile(settings.chat.profile, settings.chat.selectors_file), options_for(settings, attachment))
