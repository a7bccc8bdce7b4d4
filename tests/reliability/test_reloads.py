"""When a second session reloads the chat page: the driver alone decides, never twice back to back.

Page loads are counted by the mock chat's server (real Chromium, the real driver and bridge). The profile's
cadence is set out of reach (`refresh_ms`) or to every read (past a short pause), so the counts depend on no timing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from bridge.chat.launch import launch
from bridge.chat.playwright_driver import DriverOptions, PlaywrightDriver
from bridge.chat.profile import Profile, load_profile
from tests.browser.conftest import LoopThread
from tests.reliability.harness import ChatServer

pytestmark = [pytest.mark.reliability, pytest.mark.browser]

NEVER = 600_000  # ms: a cadence no test reaches
ALWAYS = 1  # ms: every read or post finds the page older than this, after a PAUSE
PAUSE = 0.01  # s between two steps: a lower bound on a page's age (the cadence counts from a load's end), not a timing


@pytest.fixture
def aio() -> Iterator[LoopThread]:
    runner = LoopThread()
    yield runner
    runner.stop()


def mock_profile(refresh_ms: int, fresh_ms: int) -> Profile:
    profile = load_profile("mock")
    return profile.model_copy(update={"timing": profile.timing.model_copy(update={"refresh_ms": refresh_ms, "fresh_ms": fresh_ms})})


class Loads:
    """The page loads of one conversation, as the server saw them."""

    def __init__(self, server: ChatServer, chat_id: str) -> None:
        self.server, self.chat_id = server, chat_id

    def __call__(self) -> int:
        return sum(1 for _, path in self.server.page_loads if path == self.chat_id)


def conversation(server: ChatServer, prefix: str, tmp_path: Path) -> tuple[str, Loads, Path]:
    """A new conversation with one answered turn: its id, its page-load counter and a saved login for it."""
    chat_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    server.client.inject(chat_id, "hello")
    server.client.wait_settled(chat_id, 2)
    return chat_id, Loads(server, chat_id), server.client.write_storage_state(tmp_path / "state.json")


def test_a_second_session_reloads_on_its_cadence_after_a_post_and_before_a_post_from_a_stale_page(
    chat_server: ChatServer, aio: LoopThread, tmp_path: Path
) -> None:
    client = chat_server.client
    chat_id, loads, state = conversation(chat_server, "reloads-driver", tmp_path)

    async def scenario() -> list[tuple[str, int]]:
        counts: list[tuple[str, int]] = []
        pw = await async_playwright().start()
        browser = await launch(pw)
        try:
            for label, profile in [("fresh page", mock_profile(NEVER, NEVER)), ("stale page", mock_profile(NEVER, ALWAYS)),
                                   ("every read", mock_profile(ALWAYS, ALWAYS))]:
                options = DriverOptions(url=client.chat_url(chat_id), storage_state=state, second_session=True, artifacts_dir=tmp_path)
                driver = PlaywrightDriver(profile, options, browser=browser)
                before = loads()
                await driver.start()
                try:
                    for _ in range(2):
                        await asyncio.sleep(PAUSE)
                        await driver.read_new()
                    counts.append((f"{label}: read twice", loads() - before))
                    await asyncio.sleep(PAUSE)
                    await driver.post(f"MCP's reply from a {label}")
                    counts.append((f"{label}: posted", loads() - before))
                    for _ in range(2):
                        await asyncio.sleep(PAUSE)
                        await driver.read_new()
                    counts.append((f"{label}: read twice after the post", loads() - before))
                    await asyncio.sleep(PAUSE)
                    lost = await driver.read("no-such-turn", [], tail=True)
                    assert not lost.anchored
                    counts.append((f"{label}: read a lost position", loads() - before))
                finally:
                    await driver.close()
        finally:
            await browser.close()
            await pw.stop()
        return counts

    assert aio.run(scenario(), timeout=120) == [
        # the cadence out of reach: the start's load serves the reads and the post; one reload after the post
        ("fresh page: read twice", 1), ("fresh page: posted", 1), ("fresh page: read twice after the post", 2),
        ("fresh page: read a lost position", 3),  # looked at again on a freshly loaded page, once
        # a page too old to post from is reloaded first; the post's own reload is not repeated by the next read
        ("stale page: read twice", 1), ("stale page: posted", 2), ("stale page: read twice after the post", 3),
        ("stale page: read a lost position", 4),
        # a reload before every read: a lost position is not reloaded for a second time in a row
        ("every read: read twice", 3), ("every read: posted", 4), ("every read: read twice after the post", 6),
        ("every read: read a lost position", 7),
    ]


def test_a_page_slower_to_load_than_the_cadence_is_not_reloaded_at_once(chat_server: ChatServer, aio: LoopThread, tmp_path: Path) -> None:
    """The cadence counts from the end of a load: a huge chat whose page takes longer than `refresh_ms` to load is
    read between loads (counted from their start, every read reloaded and the bridge never caught up)."""
    client = chat_server.client
    chat_id, loads, state = conversation(chat_server, "reloads-slow", tmp_path)

    async def scenario() -> int:
        pw = await async_playwright().start()
        browser = await launch(pw)
        options = DriverOptions(url=client.chat_url(chat_id), storage_state=state, second_session=True, artifacts_dir=tmp_path)
        driver = PlaywrightDriver(mock_profile(2_000, NEVER), options, browser=browser)
        before = loads()
        chat_server.load_delay = 3.0  # longer than the cadence
        try:
            await driver.start()
            await driver.read_new()
            await driver.read_new()
            return loads() - before
        finally:
            chat_server.load_delay = 0.0
            await driver.close()
            await browser.close()
            await pw.stop()

    assert aio.run(scenario(), timeout=120) == 1
