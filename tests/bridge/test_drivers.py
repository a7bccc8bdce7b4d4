"""Chat drivers chosen by name: the registry, a driver of one's own, and a new chat that gets its id late."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from bridge.chat.base import Attachment, ChatDriver
from bridge.chat.drivers import DRIVERS, DriverError, driver_factory
from bridge.chat.memory import InMemoryDriver
from bridge.config import Settings, load_settings
from bridge.session import chat_id_of, make_bridge
from bridge.wiring import make_orchestrator


@pytest.fixture
def settings(tmp_path: Path, crate_copy: Path) -> Settings:
    return load_settings(home=tmp_path / "home", project=crate_copy, llm={"api_key": None}, chat={"driver": "memory"})


async def settle(bridge, steps: int = 12) -> None:
    for _ in range(steps):
        await bridge.step()


def test_the_settings_name_the_driver_and_the_bridge_never_sees_which(settings: Settings) -> None:
    bridge = make_bridge(settings, make_orchestrator(settings), Attachment(url="memory:team-chat"))
    driver = bridge.driver
    assert isinstance(driver, InMemoryDriver) and isinstance(driver, ChatDriver)
    assert (bridge.chat_id, bridge.idle_wait) == ("team-chat", driver.poll_interval)

    asyncio.run(bridge.attach())
    driver.push_message("@agent help")
    asyncio.run(settle(bridge))
    assert len(driver.posted) == 1 and "code test" in driver.posted[0]


def test_a_driver_of_ones_own_is_one_module_named_by_its_path(settings: Settings, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "terminal_chat.py").write_text(
        textwrap.dedent(
            """
            from bridge.chat.memory import InMemoryDriver

            class TerminalChat(InMemoryDriver):
                poll_interval = 0.25

            def create_driver(settings, attachment):
                return TerminalChat(attachment.url.removeprefix("tty:"))
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    own = settings.model_copy(update={"chat": settings.chat.model_copy(update={"driver": "terminal_chat"})})
    bridge = make_bridge(own, make_orchestrator(own), Attachment(url="tty:pts-3"))
    assert type(bridge.driver).__name__ == "TerminalChat"
    assert (bridge.chat_id, bridge.idle_wait) == ("pts-3", 0.25)


def test_unknown_drivers_and_modules_without_a_factory_are_refused() -> None:
    assert set(DRIVERS) == {"playwright", "memory"}
    with pytest.raises(DriverError, match="no chat driver 'slack'.*memory, playwright"):
        driver_factory("slack")
    with pytest.raises(DriverError, match="bridge.models has no create_driver"):
        driver_factory("bridge.models")


def test_a_new_chat_takes_its_id_on_the_first_send_and_the_journal_follows(settings: Settings) -> None:
    bridge = make_bridge(settings, make_orchestrator(settings), Attachment(url="memory:"))
    driver = bridge.driver
    assert driver.chat_id == "" and bridge.chat_id == chat_id_of(driver) != ""
    asyncio.run(bridge.attach())

    driver.push_message("@agent help")
    driver.chat_id = "0f3e9a2c"  # the UI moved from `/` to `/c/0f3e9a2c` when the message was sent
    asyncio.run(settle(bridge))

    assert bridge.chat_id == "0f3e9a2c"
    assert len(driver.posted) == 1
    journal = bridge.journal
    assert journal.get("0f3e9a2c", "attached") is True
    assert journal.get("0f3e9a2c", "last_seen_id") == driver.messages[-1].id
    driver.chat_id = "another-chat"  # the person opened another conversation in the tab: not followed
    asyncio.run(settle(bridge, 2))
    assert bridge.chat_id == "0f3e9a2c"
