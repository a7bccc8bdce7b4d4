"""The bridge loop with the in-memory chat: first attach, catch-up, restart, posting rules."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import git
import pytest

from bridge.chat.base import WINDOW
from bridge.chat.errors import BrowserGone, ErrorBubble, LoggedOut, RateLimited, UIDrift
from bridge.chat.memory import InMemoryDriver
from bridge.config import Settings, load_settings
from bridge.journal import Journal
from bridge.orchestrator import Orchestrator
from bridge.runner import Bridge
from sandbox.local import LocalExecutor
from tests.conftest import TEST_IDENTITY


@pytest.fixture
def settings(tmp_path: Path, crate_copy: Path) -> Settings:
    """These tests time the chat loop: the attach-time environment check (a base build holding the workspace) is off."""
    return load_settings(home=tmp_path / "home", project=crate_copy, llm={"api_key": None}, chat={"check_environment": False})


def bridge(settings: Settings, driver: InMemoryDriver, **options: object) -> Bridge:
    executor = LocalExecutor(settings.project, settings.sandbox_config())  # type: ignore[arg-type]
    orchestrator = Orchestrator(executor, Journal(settings.home / "journal.db"), settings)
    return Bridge(driver, orchestrator, "chat", idle_wait=0.01, **options)  # type: ignore[arg-type]


async def settle(b: Bridge, steps: int = 12) -> None:
    for _ in range(steps):
        await b.step()


def test_first_attach_marks_existing_messages_seen(settings: Settings) -> None:
    driver = InMemoryDriver()
    driver.push_message("@agent status")
    b = bridge(settings, driver)
    asyncio.run(b.attach())
    asyncio.run(settle(b))
    assert driver.posted == []  # what was there before the bridge came is not run
    driver.push_message("@agent help")
    asyncio.run(settle(b))
    assert len(driver.posted) == 1 and "code test" in driver.posted[0]


def test_catch_up_runs_what_is_already_there(settings: Settings) -> None:
    driver = InMemoryDriver()
    driver.push_message("@agent status")
    b = bridge(settings, driver, catch_up=True)
    asyncio.run(b.attach())
    asyncio.run(settle(b))
    assert len(driver.posted) == 1 and "Workspace of trade_report" in driver.posted[0]


def test_restart_runs_what_arrived_meanwhile_once(settings: Settings) -> None:
    driver = InMemoryDriver()
    first = bridge(settings, driver)
    asyncio.run(first.attach())
    driver.push_message("@agent status")
    asyncio.run(settle(first))
    assert len(driver.posted) == 1
    driver.push_message("@agent help")  # typed while the bridge is down
    fresh = InMemoryDriver()  # a new page: nothing seen yet, same conversation
    fresh.messages = list(driver.messages)
    second = bridge(settings, fresh)
    asyncio.run(second.attach())
    asyncio.run(settle(second))
    assert len(fresh.posted) == 1 and "code test" in fresh.posted[0]  # only the new command, once


def test_posts_wait_for_an_idle_assistant(settings: Settings) -> None:
    driver = InMemoryDriver()
    b = bridge(settings, driver)
    asyncio.run(b.attach())
    driver.idle = False
    driver.push_message("@agent status")
    asyncio.run(settle(b))
    assert driver.posted == []  # the assistant is still writing: never post into a stream
    driver.idle = True
    asyncio.run(settle(b))
    assert len(driver.posted) == 1


def test_browser_death_relaunches_and_resumes(settings: Settings) -> None:
    driver = InMemoryDriver()
    replacement = InMemoryDriver()

    async def reconnect() -> InMemoryDriver:
        replacement.messages = list(driver.messages)
        return replacement

    b = bridge(settings, driver, reconnect=reconnect)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(b.run(stop))
        await asyncio.sleep(0.1)
        driver.push_message("@agent status")
        await asyncio.sleep(0.5)
        driver.fail_next(BrowserGone("the page crashed"))
        driver.push_message("@agent help")
        await asyncio.sleep(1.0)
        stop.set()
        await task

    asyncio.run(scenario())
    assert len(driver.posted) == 1 and "Workspace" in driver.posted[0]
    assert len(replacement.posted) == 1 and "code test" in replacement.posted[0]
    assert b.driver is replacement


def test_a_bridge_started_logged_out_waits_for_the_login(settings: Settings) -> None:
    """A logged-out page at the first attach is waited out like one later on: the bridge (a container's main
    process) keeps running and reopens the chat with the saved login a person renews meanwhile."""
    driver = InMemoryDriver()
    driver.fail_next(LoggedOut("the page is logged out (address ~ sign-in)"))
    logged_in = InMemoryDriver()

    async def reconnect() -> InMemoryDriver:
        return logged_in

    b = bridge(settings, driver, reconnect=reconnect, human_wait=0.3)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(b.run(stop))
        await asyncio.sleep(0.1)
        assert not task.done() and not driver.started  # waiting for a person, not exited
        await asyncio.sleep(0.5)
        logged_in.push_message("@agent status")
        await asyncio.sleep(0.5)
        stop.set()
        await task

    asyncio.run(scenario())
    assert b.driver is logged_in and logged_in.started
    assert len(logged_in.posted) == 1 and "Workspace" in logged_in.posted[0]


def test_a_page_that_never_comes_up_for_another_reason_ends_the_run(settings: Settings) -> None:
    """Only a login or a challenge is waited for at start-up; UI drift is the caller's to report (and exit on)."""
    driver = InMemoryDriver()
    driver.fail_next(UIDrift("composer", ["#composer"]))

    async def reconnect() -> InMemoryDriver:
        raise AssertionError("no relaunch for a drifted page")

    b = bridge(settings, driver, reconnect=reconnect, human_wait=0.1)
    with pytest.raises(UIDrift):
        asyncio.run(b.run(asyncio.Event()))


def test_a_rate_limit_keeps_the_reply_queued_until_the_wait_is_over(settings: Settings) -> None:
    driver = InMemoryDriver()
    b = bridge(settings, driver, rate_limit_wait=0.5)

    async def scenario() -> list[str]:
        stop = asyncio.Event()
        task = asyncio.create_task(b.run(stop))
        await asyncio.sleep(0.1)
        driver.push_message("@agent status")
        await asyncio.sleep(0.2)
        driver.push_message("@agent help")
        driver.fail_next(RateLimited("You've reached your limit; it resets in 2 hours"))
        await asyncio.sleep(0.2)
        during = list(driver.posted)
        await asyncio.sleep(1.0)
        stop.set()
        await task
        return during

    during = asyncio.run(scenario())
    assert len(during) == 1 and "Workspace" in during[0]  # the help reply waits out the limit
    assert len(driver.posted) == 2 and "code test" in driver.posted[1]


def test_attach_checks_the_environment_and_tells_the_developer_once(settings: Settings, crate_copy: Path) -> None:
    settings.chat.check_environment = True
    manifest = crate_copy / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace("[dependencies]", '[dependencies]\nnowhere_offline_crate = "1"'))
    repo = git.Repo(crate_copy)
    repo.git.add("--all")
    repo.index.commit("a dependency nobody has", author=TEST_IDENTITY, committer=TEST_IDENTITY)

    async def attach_and_wait(b: Bridge) -> None:
        await b.attach()
        assert b._preflight is not None
        await b._preflight
        await settle(b)

    driver = InMemoryDriver()
    asyncio.run(attach_and_wait(bridge(settings, driver)))
    assert len(driver.posted) == 1, driver.posted
    assert driver.posted[0].startswith("@dev escalate: **check environment: PROBLEMS FOUND**")
    assert "`nowhere_offline_crate`" in driver.posted[0]
    again = InMemoryDriver()
    again.messages = list(driver.messages)
    asyncio.run(attach_and_wait(bridge(settings, again)))
    assert again.posted == []  # said once per base commit


def recorded_verbs(b: Bridge) -> dict[str, str]:
    """The journal's commands by the message they came from: what ran (or was refused), not only what was seen."""
    rows = b.journal._all("SELECT msg_id, verb FROM commands WHERE chat_id = ? ORDER BY id", b.chat_id)
    return {r["msg_id"]: r["verb"] for r in rows}


def test_a_restart_reads_every_turn_typed_since_an_empty_attach_however_many(settings: Settings) -> None:
    """Attached to an empty chat, the bridge has read nothing yet: its reading position is the chat's start, and a
    restart reads back to it, not only the last WINDOW turns (the chaos run lost the commands above them)."""
    settings.rules.flood_per_minute = 1000
    driver = InMemoryDriver()
    asyncio.run(bridge(settings, driver).attach())
    typed = [driver.push_message("@agent help").id for _ in range(WINDOW + 5)]  # while the bridge is down
    again = bridge(settings, driver)  # the restarted process, on the same chat
    asyncio.run(again.attach())
    asyncio.run(settle(again, steps=2))
    assert sorted(recorded_verbs(again)) == sorted(typed)


def test_a_turn_from_after_the_attach_runs_even_when_the_clock_does_not_tell_it_apart(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the first attach found is from before the bridge came by its ids, not by a clock: with the wall clock
    standing still (or set back after the attach), a turn shown late above a later command still runs."""
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    driver = InMemoryDriver()
    b = bridge(settings, driver)
    asyncio.run(b.attach())
    later = driver.push_message("@agent help")
    asyncio.run(settle(b, steps=2))
    late = driver.push_message("@agent status", at=0)  # the server places it above the command already read
    asyncio.run(settle(b, steps=2))
    assert recorded_verbs(b) == {later.id: "help", late.id: "status"}


def test_nothing_the_first_attach_finds_runs_even_past_an_error_bubble(settings: Settings) -> None:
    """An error bubble met while the first attach takes the chat in is recorded and read past: the turns around it
    are from before the bridge came too (an attach that stopped at the bubble would read them later as new)."""
    driver = InMemoryDriver()
    driver.push_message("@agent status")
    failed = driver.push_message("Something went wrong.", role="assistant")
    driver.push_message("@agent help")

    async def start() -> None:  # the page comes up; its first read meets the bubble
        driver.started = True
        driver.fail_next(ErrorBubble(failed.id, "Something went wrong."))

    driver.start = start  # type: ignore[method-assign]
    b = bridge(settings, driver)
    asyncio.run(b.attach())
    asyncio.run(settle(b))
    assert driver.posted == [] and recorded_verbs(b) == {}
    later = driver.push_message("@agent help")
    asyncio.run(settle(b))
    assert recorded_verbs(b) == {later.id: "help"} and len(driver.posted) == 1
