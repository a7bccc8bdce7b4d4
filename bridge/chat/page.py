"""A chat page in a browser: opened in a launched Chromium or found in the person's over CDP, watched for DOM
changes, closed and crashes, and called through the reader script with Playwright's failures as typed states."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loguru import logger
from playwright.async_api import Browser, BrowserContext, Page, Playwright, StorageState, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from pydantic import BaseModel, Field

from bridge.chat.errors import BrowserGone, PageStalled, UIDrift
from bridge.chat.footprint import browser_mib
from bridge.chat.launch import launch
from bridge.chat.login_secrets import register_login_secrets
from bridge.chat.profile import Profile
from bridge.chat.recycling import CEILING_EVERY, Recycling

HERE = Path(__file__).parent
READER_JS = (HERE / "reader.js").read_text(encoding="utf-8")
OBSERVER_JS = (HERE / "observer.js").read_text(encoding="utf-8")
CALL_TIMEOUT = 60.0
NAVIGATIONS = 5
CLIPBOARD = ["clipboard-read", "clipboard-write"]
CLOSED = ("has been closed", "Target closed", "Browser closed", "browser has disconnected", "Page crashed")


class DriverOptions(Recycling):
    url: str = Field(description="the conversation's URL (also how the tab is found over CDP)")
    storage_state: Path | None = Field(default=None, description="the saved login (see `devspace login`)")
    cdp_url: str | None = Field(default=None, description="attach to the person's running browser instead of launching one")
    chromium: Path | None = Field(default=None, description="default: DEVSPACE_CHROMIUM, else chromium on PATH")
    headless: bool = True
    artifacts_dir: Path = Field(default=Path("devspace-artifacts"), description="where UI drift leaves a screenshot and the HTML")
    second_session: bool = Field(default=False, description="a separate session: reload before posting to see others' turns")


class ChatPage:
    """One page showing the chat. `on_page` runs for every page it opens or finds (to hook its events);
    `activity` is set on every DOM change the page reports and when the page closes or crashes.

    Pass `browser` to open the page in a new context of an already launched browser (closed with the
    context; the browser stays).
    """

    def __init__(self, profile: Profile, options: DriverOptions, *, browser: Browser | None = None, on_page: Callable[[Page], None] | None = None) -> None:
        self.profile = profile
        self.options = options
        self.activity = asyncio.Event()
        self._on_page = on_page
        self._browser = browser
        self._owns_browser = browser is None
        self._pw: Playwright | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._attached = False
        self._reloads = 0
        self._renewals = 0
        self._relaunches = 0
        self._relaunched_at = 0
        self._ceiling_off = False
        self._gone: str | None = None
        self._binding = f"__devspaceActivity_{secrets.token_hex(4)}"
        self._js_profile = profile.model_dump(mode="json")

    @property
    def page(self) -> Page:
        if self._page is None:
            raise BrowserGone("the driver is not started")
        return self._page

    @property
    def current_url(self) -> str | None:
        return self._page.url if self._page is not None else None

    async def open(self) -> None:
        async with self.guard("start"):
            if self.options.cdp_url:
                await self._attach(self.options.cdp_url)
            else:
                await self._launch()
            try:
                await self.page.evaluate(f"({OBSERVER_JS})({json.dumps(self._binding)})")
            except PlaywrightError as exc:
                if "context was destroyed" not in exc.message:
                    raise  # else a redirect: the new document runs the observer as an init script

    async def _launch(self) -> None:
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

    def _shows_the_chat(self, url: str) -> bool:
        wanted = self.profile.chat_id(self.options.url)
        return self.profile.chat_id(url) == wanted if wanted else url.startswith(self.options.url)

    async def _attach(self, cdp_url: str) -> None:
        self._pw = await async_playwright().start()
        self._browser = await self._pw.chromium.connect_over_cdp(cdp_url)
        self._attached = True
        pages = [p for ctx in self._browser.contexts for p in ctx.pages]
        page = next((p for p in pages if self._shows_the_chat(p.url)), None)
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
        """DOM changes set `activity`; a closed or crashed page is remembered."""
        self._page = page
        await page.expose_binding(self._binding, lambda source: self.activity.set())
        await page.add_init_script(f"({OBSERVER_JS})({json.dumps(self._binding)})")
        page.on("close", lambda _: self._mark_gone("the chat page was closed") if page is self._page else None)
        page.on("crash", lambda _: self._mark_gone("the chat page crashed") if page is self._page else None)
        if self._on_page is not None:
            self._on_page(page)

    def _mark_gone(self, why: str) -> None:
        self._gone = why
        self.activity.set()

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

    async def reload(self) -> None:
        """Reload the page. Every `recycle_reloads`-th time open the chat in a new context instead (`recycle`), every
        `relaunch_renewals`-th of those, or once the browser passed its memory ceiling, in a new browser (`relaunch`)."""
        async with self.guard("reload"):
            self._reloads += 1
            every = self.options.recycle_reloads
            renew = bool(every) and self._reloads % every == 0 and self._context is not None and not self._attached
            if renew:
                self._renewals += 1
            if self._may_relaunch() and ((renew and self._relaunch_due()) or self._over_ceiling()):
                await self.relaunch()
            elif renew:
                await self.recycle()
            else:
                await self.page.reload(wait_until="domcontentloaded")

    def _may_relaunch(self) -> bool:
        return self._owns_browser and not self._attached and self._context is not None

    def _relaunch_due(self) -> bool:
        every = self.options.relaunch_renewals
        return bool(every) and self._renewals % every == 0

    def _over_ceiling(self) -> bool:
        ceiling = self.options.browser_ceiling_mib
        if ceiling is None or self._ceiling_off or self._reloads % CEILING_EVERY:
            return False
        used = browser_mib()
        if used is None or used <= ceiling:
            return False
        if self._relaunches and self._reloads - self._relaunched_at <= CEILING_EVERY:
            self._ceiling_off = True  # else a relaunch at every check
            logger.warning(f"a freshly launched browser takes {used:.0f} MiB, over its ceiling of {ceiling:.0f} MiB; "
                           "the ceiling is lifted for this session (raise browser_ceiling_mib)")
            return False
        logger.info(f"the browser takes {used:.0f} MiB, over its ceiling of {ceiling:.0f} MiB")
        return True

    async def recycle(self) -> None:
        """The chat opened at the page's address in a new browser context with the old one's cookies and storage,
        then the old context closed: nothing the old page accumulated survives (its renderer goes with it)."""
        old = self._context
        assert old is not None and self._browser is not None
        try:
            await self._reopen(self._browser, await old.storage_state())
        finally:
            await old.close()
        logger.info(f"the chat page was renewed after {self._reloads} reloads (new browser context)")

    async def relaunch(self) -> None:
        """The chat opened in a newly launched browser on a new Playwright connection, with the old context's cookies
        and storage, then the old browser closed and its connection stopped: what Playwright's client keeps per
        connection, its driver process and the browser's own processes go with them. Only a browser this page launched."""
        old_context, old_browser, old_pw = self._context, self._browser, self._pw
        assert old_context is not None and old_browser is not None and old_pw is not None and self._owns_browser
        state = await old_context.storage_state()
        pw = await async_playwright().start()
        try:
            browser = await launch(pw, self.options.headless, self.options.chromium)
        except BaseException:
            await pw.stop()
            raise
        self._pw, self._browser = pw, browser
        try:
            await self._reopen(browser, state)
        finally:  # the old browser goes either way: a failed reopen leaves the new one to `close`
            with contextlib.suppress(PlaywrightError):
                await old_browser.close()
            await old_pw.stop()
        self._relaunches += 1
        self._relaunched_at = self._reloads
        logger.info(f"the chat page was reopened in a new browser after {self._reloads} reloads")

    async def _reopen(self, browser: Browser, state: StorageState) -> None:
        """The chat at the page's address in a new context of `browser` with the given storage state; it becomes this page's."""
        url = self.page.url
        register_login_secrets(state)  # cookies the site set or rotated since the launch are masked too
        context = await browser.new_context(storage_state=state)
        await self._grant_clipboard(context)
        page = await context.new_page()
        self._context = context
        await self._watch(page)
        await page.goto(url, wait_until="domcontentloaded")

    @contextlib.asynccontextmanager
    async def guard(self, what: str) -> AsyncIterator[None]:
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

    async def call(self, op: str, **arg: Any) -> Any:
        """One round trip to the reader script; a navigation in between (a client-side redirect may follow a
        load) is waited out and the call made again."""
        payload = {"op": op, "profile": self._js_profile, **arg}
        for _ in range(NAVIGATIONS):
            try:
                return await self._evaluate(op, payload)
            except PlaywrightError as exc:
                if "context was destroyed" not in exc.message:
                    raise
            async with self.guard("load"):
                await self.page.wait_for_load_state("domcontentloaded")
        return await self._evaluate(op, payload)

    async def _evaluate(self, op: str, payload: dict[str, Any]) -> Any:
        try:
            async with self.guard(op):
                async with asyncio.timeout(CALL_TIMEOUT):
                    return json.loads(await self.page.evaluate(READER_JS, payload))
        except TimeoutError as exc:
            raise PageStalled(f"the page did not answer '{op}' within {CALL_TIMEOUT:.0f}s") from exc

    async def drift(self, name: str, selectors: list[str], detail: str = "") -> UIDrift:
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
