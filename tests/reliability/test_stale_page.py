"""A turn typed elsewhere while the bridge posts from its second session: the server puts it before our
post, but the bridge's page (reloaded just before posting) does not show it until the next reload.
It must still be read, once, and never skipped (real Chromium, the mock chat, the real driver)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from bridge.chat.launch import launch
from bridge.chat.playwright_driver import DriverOptions, PlaywrightDriver
from bridge.chat.profile import load_profile
from bridge.models import ChatMessage
from tests.browser.conftest import LoopThread
from tests.reliability.harness import ChatServer

pytestmark = [pytest.mark.reliability, pytest.mark.browser]


@pytest.fixture
def aio() -> Iterator[LoopThread]:
    runner = LoopThread()
    yield runner
    runner.stop()


async def _read_all(driver: PlaywrightDriver, rounds: int = 20) -> list[ChatMessage]:
    """Read until nothing new comes for a few rounds (reloading as a second session does between reads)."""
    got: list[ChatMessage] = []
    quiet = 0
    while quiet < 3 and rounds:
        rounds -= 1
        new = await driver.read_new()
        got += new
        quiet = 0 if new else quiet + 1
        await driver.wait_for_activity(0.5)
        await driver.refresh()
    return got


def test_a_turn_that_lands_before_our_post_is_still_read(chat_server: ChatServer, aio: LoopThread, tmp_path: Path) -> None:
    client = chat_server.client
    chat_id = "stale-page"
    url = client.chat_url(chat_id)
    state = client.write_storage_state(tmp_path / "state.json")
    client.inject(chat_id, "hello")
    client.wait_settled(chat_id, 2)

    async def scenario() -> tuple[list[ChatMessage], list[ChatMessage]]:
        pw = await async_playwright().start()
        browser = await launch(pw)
        options = DriverOptions(url=url, storage_state=state, second_session=True, artifacts_dir=tmp_path / "artifacts")
        driver = PlaywrightDriver(load_profile("mock"), options, browser=browser)
        try:
            await driver.start()
            first = await _read_all(driver)
            insert = driver.insert

            async def typed_elsewhere_first(text: str) -> Any:
                await asyncio.to_thread(client.inject, chat_id, "@agent status (typed in another tab)")
                return await insert(text)

            driver.insert = typed_elsewhere_first  # type: ignore[method-assign]
            await driver.post("MCP's reply")
            driver.insert = insert  # type: ignore[method-assign]
            return first, await _read_all(driver)
        finally:
            await driver.close()
            await browser.close()
            await pw.stop()

    first, after = aio.run(scenario(), timeout=120)
    assert [m.text for m in first] == ["hello", "Noted."]
    texts = [m.text for m in after]
    assert texts.count("@agent status (typed in another tab)") == 1, texts  # read, once
    order = [m.markdown for m in client.messages(chat_id)]
    assert order.index("@agent status (typed in another tab)") < order.index("MCP's reply")  # the server put it first
