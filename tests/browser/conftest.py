"""Browser fixtures: the mock chat server, system Chromium for pytest-playwright, and the async driver.

The person in the chat uses pytest-playwright's sync `page`; the bridge's async driver runs on an
event loop in a background thread (`aio.run(coro)`), in its own browser, as it would in production.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.async_api import Browser, async_playwright
from playwright.sync_api import Page

from bridge.chat.launch import launch, launch_options
from bridge.chat.playwright_driver import DriverOptions, PlaywrightDriver
from bridge.chat.profile import Profile, load_profile
from bridge.mockchat.app import create_app
from bridge.mockchat.assistant import ScriptedAssistant, load_script
from bridge.mockchat.client import MockChatClient
from bridge.models import ChatMessage
from sandbox.serving import BackgroundServer

RULES = Path(__file__).with_name("rules.yaml")
T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a daemon thread; `run` waits for a coroutine's result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="driver-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start pytest-playwright's sync Playwright run last: its event loop stays registered in
    the main thread for the rest of the session, and `asyncio.run()` refuses to start after it."""
    items.sort(key=lambda item: "playwright" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's browser: the system Chromium with the root-safe flags."""
    return {**launch_options(), **browser_type_launch_args}


@pytest.fixture(scope="session")
def mock_server() -> Iterator[BackgroundServer]:
    app = create_app(ScriptedAssistant(load_script(RULES)))
    with BackgroundServer(app, timeout_graceful_shutdown=1) as server:
        yield server


@pytest.fixture(scope="session")
def base_url(mock_server: BackgroundServer) -> str:
    return mock_server.url


@pytest.fixture
def mock(mock_server: BackgroundServer) -> Iterator[MockChatClient]:
    client = MockChatClient(mock_server.url)
    yield client
    client.set_room(challenge=False)
    client.close()


@pytest.fixture
def chat_id() -> str:
    """A fresh conversation per test, so tests never see each other's turns."""
    return str(uuid.uuid4())


@pytest.fixture
def state_file(mock: MockChatClient, tmp_path: Path) -> Path:
    return mock.write_storage_state(tmp_path / "state.json")


@pytest.fixture
def person(page: Page, mock: MockChatClient) -> Page:
    """The developer's own logged-in tab (sync Playwright)."""
    page.context.add_cookies(mock.storage_state()["cookies"])
    return page


@pytest.fixture(scope="session")
def aio() -> Iterator[LoopThread]:
    runner = LoopThread()
    yield runner
    runner.stop()


@pytest.fixture(scope="session")
def bridge_browser(aio: LoopThread) -> Iterator[Browser]:
    """The bridge's own Chromium, shared by the drivers of all tests (each gets a new context)."""
    pw = aio.run(async_playwright().start())
    browser = aio.run(launch(pw))
    yield browser
    aio.run(browser.close())
    aio.run(pw.stop())


@pytest.fixture(scope="session")
def mock_profile() -> Profile:
    return load_profile("mock")


DriverFactory = Callable[..., PlaywrightDriver]


@pytest.fixture
def open_driver(aio: LoopThread, bridge_browser: Browser, mock_profile: Profile, state_file: Path, tmp_path: Path) -> Iterator[DriverFactory]:
    """Start a driver on a URL (logged in unless `storage_state=None`); all are closed after the test."""
    started: list[PlaywrightDriver] = []

    def factory(url: str, profile: Profile | None = None, start: bool = True, **options: Any) -> PlaywrightDriver:
        settings = {"storage_state": state_file, "artifacts_dir": tmp_path / "artifacts", **options}
        driver = PlaywrightDriver(profile or mock_profile, DriverOptions(url=url, **settings), browser=bridge_browser)
        started.append(driver)
        if start:
            aio.run(driver.start())
        return driver

    yield factory
    for driver in started:
        aio.run(driver.close())


@pytest.fixture
def read_until(aio: LoopThread) -> Callable[..., list[ChatMessage]]:
    """Read (waiting for activity in between) until `count` messages came back; fails on fewer or more."""

    def read(driver: PlaywrightDriver, count: int, timeout: float = 20.0) -> list[ChatMessage]:
        async def loop() -> list[ChatMessage]:
            got: list[ChatMessage] = []
            deadline = asyncio.get_running_loop().time() + timeout
            while len(got) < count:
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"read {len(got)} of {count} messages: {[m.text[:40] for m in got]}")
                got += await driver.read_new()
                if len(got) < count:
                    await driver.wait_for_activity(1.0)
            return got

        messages = aio.run(loop(), timeout + 5)
        assert len(messages) == count, [m.text[:40] for m in messages]
        return messages

    return read
