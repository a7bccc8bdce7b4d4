"""`devspace login`: a person logs in once in a visible browser; the session is kept in a 0600 file."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.async_api import Error as PlaywrightError
from pydantic import BaseModel, ConfigDict, ValidationError
from playwright.async_api import Page, async_playwright

from bridge.chat.errors import LoggedOut
from bridge.chat.launch import launch
from bridge.chat.page import READER_JS
from bridge.chat.profile import Profile

Person = Callable[[Page], Awaitable[None]]
POLL = 0.25


def save_state(path: Path, state: Mapping[str, Any]) -> Path:
    """Write a storage state readable by its owner only (0600), replacing any older file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


class StorageState(BaseModel):
    """A saved login as Playwright writes it (`BrowserContext.storage_state()`): the cookies and each origin's storage."""

    model_config = ConfigDict(extra="allow")
    cookies: list[dict[str, Any]]
    origins: list[dict[str, Any]] = []


def import_state(text: str, path: Path) -> Path:
    """Save a login made elsewhere (the JSON of `devspace login`'s file) at `path`, mode 0600, as this process's user.

    The hand-over into a container: the container's own user writes the file, so it is theirs to read.
    Raises ValueError, with nothing written, when `text` is not a saved login.
    """
    try:
        state = StorageState.model_validate_json(text)
    except ValidationError as exc:
        raise ValueError(f"not a saved login (the JSON `devspace login` writes): {exc.errors()[0]['msg']}") from None
    if not state.cookies:
        raise ValueError("the saved login holds no cookie: log in with `devspace login` first")
    return save_state(path, state.model_dump(mode="json"))


async def _logged_in(page: Page, profile: Profile) -> bool:
    try:
        state = json.loads(await page.evaluate(READER_JS, {"op": "state", "profile": profile.model_dump(mode="json")}))
    except PlaywrightError:  # navigating between the login pages
        return False
    return not state["logged_out"] and not state["challenge"] and state["composer"] is not None


async def login(
    profile: Profile,
    state_path: Path,
    *,
    url: str | None = None,
    headless: bool = False,
    timeout: float = 600.0,
    chromium: Path | None = None,
    person: Person | None = None,
) -> Path:
    """Open the chat, let the person log in (solving any challenge themselves), then save the session.

    Done when the logged-out marker is gone and a composer shows. `person` scripts the person (tests).
    """
    async with async_playwright() as pw:
        browser = await launch(pw, headless, chromium)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(url or profile.url, wait_until="domcontentloaded")
            logger.info(f"log in to {profile.name} in the browser window; waiting up to {timeout:.0f}s")
            if person is not None:
                await person(page)
            deadline = time.monotonic() + timeout
            while not await _logged_in(page, profile):
                if time.monotonic() > deadline:
                    raise LoggedOut(f"not logged in to {profile.name} after {timeout:.0f}s")
                await asyncio.sleep(POLL)
            save_state(state_path, await context.storage_state())
        finally:
            await browser.close()
    logger.info(f"session saved to {state_path} (mode 0600)")
    return state_path
