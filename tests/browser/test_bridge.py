"""The whole bridge against the mock chat in real Chromium: read, run, post, restart."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from bridge.config import Settings
from bridge.mockchat.client import MockChatClient
from bridge.protocol import SIGNATURE
from tests.browser.conftest import Running, mcp_posts
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser


def type_in(page: Page, text: str) -> None:
    composer = page.locator('div.tiptap.ProseMirror[contenteditable="true"]')
    composer.click()
    page.keyboard.insert_text(text)
    page.locator('button[data-testid="chat-submit"]').click()


def test_developer_command_gets_a_reply_in_the_page(
    person: Page, mock: MockChatClient, chat_id: str, start_bridge: Callable[..., Running]
) -> None:
    start_bridge(mock.chat_url(chat_id)).attached()  # the (empty) conversation first
    person.goto(mock.chat_url(chat_id, live=1))
    type_in(person, "@agent code test #aggr_trades")
    expect(person.locator('[data-testid="user-message"]', has_text="check test #aggr_trades: OK")).to_be_visible(timeout=60_000)
    posts = wait_for(lambda: mcp_posts(mock, chat_id), what="MCP's post")
    assert len(posts) == 1 and "6 passed, 0 failed" in posts[0]


def test_streamed_patch_is_applied_exactly_after_it_ends(
    mock: MockChatClient, chat_id: str, settings: Settings, start_bridge: Callable[..., Running]
) -> None:
    run = start_bridge(mock.chat_url(chat_id)).attached()
    mock.inject(chat_id, "Please add a tabbed comment to the report module.")
    posts = wait_for(lambda: mcp_posts(mock, chat_id), timeout=90, what="the update post")
    assert posts[0].startswith("@all Updated src/report.rs"), posts[0]
    tree = run.bridge.orchestrator.executor.ws.tree  # type: ignore[attr-defined]
    lines = (tree / "src/report.rs").read_text().splitlines()
    assert "\t// tabbed comment with trailing spaces  " in lines  # the tab and the trailing spaces intact


def test_own_posts_are_not_run_and_reloads_repeat_nothing(
    mock: MockChatClient, chat_id: str, start_bridge: Callable[..., Running]
) -> None:
    run = start_bridge(mock.chat_url(chat_id)).attached()
    mock.inject(chat_id, "@agent help")
    posts = wait_for(lambda: mcp_posts(mock, chat_id), what="the help post")
    assert "@agent code test" in posts[0]  # the post quotes commands, yet none of them runs
    driver, reloads = run.bridge.driver, []
    reload = driver.refresh

    async def counted() -> None:
        reloads.append(time.monotonic())
        await reload()

    driver.refresh = counted  # type: ignore[method-assign]
    wait_for(lambda: len(reloads) >= 3, what="three reloads")  # the second session's own cadence (the mock's refresh_ms)
    mock.wait_settled(chat_id, 4)
    time.sleep(2.0)
    assert len(mcp_posts(mock, chat_id)) == 1
    journal = run.bridge.journal
    assert [r.verb for r in journal.unfinished_commands(chat_id)] == []
    rows = journal._all("SELECT verb FROM commands WHERE chat_id = ?", chat_id)
    assert [r["verb"] for r in rows] == ["help"]


def test_dry_run_posts_nothing(
    mock: MockChatClient, chat_id: str, start_bridge: Callable[..., Running], capfd: pytest.CaptureFixture[str]
) -> None:
    run = start_bridge(mock.chat_url(chat_id), dry_run=True).attached()
    mock.inject(chat_id, "@agent status")
    wait_for(lambda: "Workspace of trade_report" in capfd.readouterr().out, what="the printed reply")
    run.halt()
    assert mcp_posts(mock, chat_id) == []


def test_second_session_answers_once_across_a_kill(
    mock: MockChatClient, chat_id: str, start_bridge: Callable[..., Running]
) -> None:
    first = start_bridge(mock.chat_url(chat_id)).attached()
    for n in range(3):
        mock.inject(chat_id, f"@agent code files #date{n}")
    wait_for(lambda: len(mcp_posts(mock, chat_id)) >= 2, what="two answers")
    first.kill()
    for n in range(3, 5):
        mock.inject(chat_id, f"@agent code files #date{n}")  # typed while the bridge is down
    start_bridge(mock.chat_url(chat_id))
    wait_for(lambda: len(mcp_posts(mock, chat_id)) >= 5, timeout=60, what="all five answers")
    time.sleep(3.0)
    posts = mcp_posts(mock, chat_id)
    assert len(posts) == 5
    users = [m.markdown for m in mock.messages(chat_id) if m.role == "user" and not m.markdown.rstrip().endswith(SIGNATURE)]
    assert len(users) == 5
