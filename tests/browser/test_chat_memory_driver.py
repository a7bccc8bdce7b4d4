"""The in-memory ChatDriver that tests of the runner and orchestrator build on."""

from __future__ import annotations

import asyncio

import pytest

from bridge.chat.base import ChatDriver
from bridge.chat.errors import LoggedOut, PageStalled
from bridge.chat.memory import InMemoryDriver
from bridge.chat.playwright_driver import DriverOptions, PlaywrightDriver
from bridge.chat.profile import load_profile
from bridge.models import CodeBlock


def test_both_drivers_satisfy_the_protocol():
    assert isinstance(InMemoryDriver(), ChatDriver)
    assert isinstance(PlaywrightDriver(load_profile("mock"), DriverOptions(url="http://127.0.0.1:1/chat/x")), ChatDriver)


def test_messages_are_read_once_in_order_and_reading_resumes_from_last_seen_id(aio):
    async def scenario() -> None:
        chat = InMemoryDriver()
        first = chat.push_message("@agent status")
        second = chat.push_message("Here:\n```diff\n+\tx  \n```", role="assistant")
        assert [m.id for m in await chat.read_new()] == [first.id, second.id]
        assert second.code_blocks == [CodeBlock(text="+\tx  ", info="diff")]
        assert await chat.read_new() == []
        third = chat.push_message("@agent commit")
        restarted = InMemoryDriver()
        restarted.messages = chat.messages
        restarted.last_seen_id = second.id
        assert [m.id for m in await restarted.read_new()] == [third.id]

    aio.run(scenario())


def test_an_incomplete_turn_holds_back_the_turns_after_it_until_finished(aio):
    async def scenario() -> None:
        chat = InMemoryDriver()
        streaming = chat.push_message("Thinking", role="assistant", complete=False)
        chat.push_message("@agent status")
        assert await chat.read_new() == []
        chat.finish(streaming.id, "Done:\n```rust\nfn x() {}\n```")
        read = await chat.read_new()
        assert [m.text[:4] for m in read] == ["Done", "@age"]
        assert read[0].code_blocks == [CodeBlock(text="fn x() {}", info="rust")]

    aio.run(scenario())


def test_posts_are_recorded_and_show_as_user_turns_and_failures_can_be_scripted(aio):
    async def scenario() -> None:
        chat = InMemoryDriver()
        message_id = await chat.post("MCP: build ok")
        assert chat.posted == ["MCP: build ok"]
        assert [(m.id, m.role, m.text) for m in await chat.read_new()] == [(message_id, "developer", "MCP: build ok")]
        chat.idle = False
        with pytest.raises(PageStalled):
            await chat.post("too early")
        chat.fail_next(LoggedOut("session expired"))
        with pytest.raises(LoggedOut):
            await chat.read_new()
        assert await chat.read_new() == []

    aio.run(scenario())


def test_wait_for_activity_wakes_on_a_new_message_and_times_out_otherwise(aio):
    async def scenario() -> None:
        chat = InMemoryDriver()
        assert await chat.wait_for_activity(0.05) is False
        asyncio.get_running_loop().call_later(0.05, chat.push_message, "hello")
        assert await chat.wait_for_activity(5) is True

    aio.run(scenario())
