"""Browser fixtures: the mock chat server, system Chromium for pytest-playwright, the async driver, the bridge.

The server holds both fixtures: classic pages at `/chat/<id>` (the mock profile) and grok-2026 pages at
`/c/<id>`, `/project/<id>?chat=<id>` and `/` (the grok profile, with the mock's short timings). The
person in the chat uses pytest-playwright's sync `page`; the bridge's async driver runs on an event
loop in a background thread (`aio.run(coro)`), in its own browser, as it would in production.
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
from bridge.config import Settings, load_settings
from bridge.journal import Journal
from bridge.mockchat.app import MockOptions, create_app
from bridge.mockchat.assistant import ScriptedAssistant, load_script
from bridge.mockchat.client import MockChatClient
from bridge.models import ChatMessage
from bridge.orchestrator import Orchestrator
from bridge.protocol import SIGNATURE
from bridge.runner import ATTACHED, Bridge
from bridge.session import chat_id_of
from sandbox.local import LocalExecutor
from sandbox.serving import BackgroundServer
from tests.support.waiting import wait_for

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
    app = create_app(ScriptedAssistant(load_script(RULES)), MockOptions(ui="grok-2026"))
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


@pytest.fixture(scope="session")
def grok_profile(mock_profile: Profile) -> Profile:
    """The grok profile as shipped (both read routes), with the mock's short timings."""
    return load_profile("grok").model_copy(update={"timing": mock_profile.timing})


@pytest.fixture(scope="session")
def grok_dom_profile(grok_profile: Profile) -> Profile:
    """The grok profile without its history API: everything read from the page."""
    return grok_profile.model_copy(update={"api": None})


DriverFactory = Callable[..., PlaywrightDriver]


@pytest.fixture
def open_driver(aio: LoopThread, bridge_browser: Browser, mock_profile: Profile, state_file: Path, tmp_path: Path) -> Iterator[DriverFactory]:
    """Start a driver on a URL (logged in unless `storage_state=None`), in the session's browser or (`own_browser`)
    one it launches as the bridge does; all are closed after the test."""
    started: list[PlaywrightDriver] = []

    def factory(url: str, profile: Profile | None = None, start: bool = True, own_browser: bool = False, **options: Any) -> PlaywrightDriver:
        settings = {"storage_state": state_file, "artifacts_dir": tmp_path / "artifacts", **options}
        browser = None if own_browser else bridge_browser
        driver = PlaywrightDriver(profile or mock_profile, DriverOptions(url=url, **settings), browser=browser)
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


class Running:
    """A Bridge running on the driver loop in the background until stopped."""

    def __init__(self, aio: LoopThread, bridge: Bridge) -> None:
        self.aio = aio
        self.bridge = bridge
        self.stop = aio.run(_event())
        self.task: asyncio.Task[None] = aio.run(_spawn(bridge.run(self.stop)))

    def attached(self, timeout: float = 60.0) -> Running:
        """Wait until the bridge has attached (what is in the chat by then counts as seen on a first attach)."""
        wait_for(lambda: self.bridge.journal.get(self.bridge.chat_id, ATTACHED, False), timeout=timeout, what="the bridge to attach")
        return self

    def halt(self) -> None:
        self.aio.loop.call_soon_threadsafe(self.stop.set)
        self.aio.run(_finished(self.task), 30)

    def kill(self) -> None:
        """Stop at once, as a crash would: no clean-up of the loop's step; the task is gone when this returns."""
        self.aio.loop.call_soon_threadsafe(self.task.cancel)
        self.aio.run(_finished(self.task), 10)


async def _event() -> asyncio.Event:
    return asyncio.Event()


async def _spawn(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(coro)


async def _finished(task: asyncio.Task[None]) -> None:
    """Wait for the task to end (cancelled or not); its own exception, if any, is raised."""
    await asyncio.wait([task])
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


@pytest.fixture
def settings(tmp_path: Path, crate_copy: Path) -> Settings:
    return load_settings(home=tmp_path / "home", project=crate_copy, llm={"api_key": None})


@pytest.fixture
def start_bridge(aio: LoopThread, open_driver: DriverFactory, settings: Settings) -> Iterator[Callable[..., Running]]:
    """Start the whole bridge (real executor and journal) on a chat URL, in the background; stopped after the test."""
    running: list[Running] = []

    def start(url: str, *, dry_run: bool = False, second_session: bool = True, profile: Profile | None = None) -> Running:
        executor = LocalExecutor(settings.project, settings.sandbox_config())  # type: ignore[arg-type]
        orchestrator = Orchestrator(executor, Journal(settings.home / "journal.db"), settings, dry_run=dry_run)
        driver = open_driver(url, profile=profile, start=False, second_session=second_session)
        bridge = Bridge(driver, orchestrator, chat_id_of(driver), dry_run=dry_run, idle_wait=0.5)
        run = Running(aio, bridge)
        running.append(run)
        return run

    yield start
    for run in running:
        if not run.task.done():
            run.halt()


def mcp_posts(mock: MockChatClient, chat_id: str) -> list[str]:
    """MCP's posts in the chat, as the server keeps them."""
    return [m.markdown for m in mock.messages(chat_id) if m.role == "user" and m.markdown.rstrip().endswith(SIGNATURE)]
