"""Reading a live conversation: identified messages, once each, complete, with exact code."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Playwright

from bridge.chat.launch import chromium_path, launch_args
from bridge.chat.profile import Profile
from bridge.protocol.parse import parse
from sandbox.serving import free_port

pytestmark = pytest.mark.browser

COMPOSER = 'div.tiptap.ProseMirror[contenteditable="true"]'
PATCH_CODE = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,3 +1,3 @@\n fn adjust() {\n-\tlet x = 1;  \n+    \tlet x = 2;\t \n }"


def test_developer_message_typed_in_the_page_is_read_once_with_role_and_id(person, mock, chat_id, open_driver, read_until, aio):
    url = mock.chat_url(chat_id, live=1)
    driver = open_driver(url)
    person.goto(url)
    person.locator(COMPOSER).click()
    person.keyboard.type("@agent status")
    person.keyboard.press("Enter")

    developer, answer = read_until(driver, 2)

    server = mock.messages(chat_id)
    assert [developer.id, answer.id] == [t.id for t in server]
    assert (developer.role, developer.text, developer.chat_id) == ("developer", "@agent status", chat_id)
    assert (answer.role, answer.text) == ("assistant", "Noted.")
    assert aio.run(driver.read_new()) == []
    assert driver.last_seen_id == answer.id


def test_streaming_patch_is_read_only_when_complete_and_its_code_is_exact(mock, chat_id, open_driver, aio):
    driver = open_driver(mock.chat_url(chat_id))
    aio.run(driver.post("please send the slow patch"))
    read: list = []
    reads_while_streaming = 0
    while len(read) < 2:
        streaming_before = any(t.status == "streaming" for t in mock.messages(chat_id))
        got = aio.run(driver.read_new())
        streaming_after = any(t.status == "streaming" for t in mock.messages(chat_id))
        if streaming_before and streaming_after:
            reads_while_streaming += 1
            assert all(m.role == "developer" for m in got), "an assistant turn was read while it was being written"
        read += got
        aio.run(driver.wait_for_activity(1.0))
    assert reads_while_streaming > 0, "the test never read during the stream"

    answer = read[1]
    final = mock.messages(chat_id)[1]
    assert answer.id == final.id and final.status == "done"
    assert [b.text for b in answer.code_blocks] == [PATCH_CODE]
    assert answer.code_blocks[0].info == "diff"
    assert f"```diff\n{PATCH_CODE}\n```" in answer.text
    assert answer.text.endswith("Apply it with @agent code improvement file_id=1.")


def test_copy_route_reads_exact_code_where_the_renderer_is_lossy(mock, chat_id, open_driver, read_until, aio, mock_profile: Profile):
    url = mock.chat_url(chat_id, lossy=1)
    dom = open_driver(url)
    copy = open_driver(url, profile=mock_profile.model_copy(update={"code_route": "copy"}))
    aio.run(dom.post("please send the slow patch"))
    mock.wait_settled(chat_id, 2)
    aio.run(copy.refresh())

    dom_answer = read_until(dom, 2)[1]
    copy_answer = read_until(copy, 2)[1]

    assert dom_answer.code_blocks[0].text != PATCH_CODE, "the lossy renderer should have rewritten the code"
    assert "+        let x = 2;" in dom_answer.code_blocks[0].text
    assert [b.text for b in copy_answer.code_blocks] == [PATCH_CODE]
    assert copy_answer.text == mock.messages(chat_id)[1].markdown
    assert copy_answer.id == dom_answer.id


def test_reload_keeps_the_ids_and_nothing_is_read_twice(mock, chat_id, open_driver, read_until, aio):
    url = mock.chat_url(chat_id)
    driver = open_driver(url)
    aio.run(driver.post("hello there"))
    ids = [m.id for m in read_until(driver, 2)]

    aio.run(driver.refresh())
    assert aio.run(driver.read_new()) == []
    assert [m.id for m in read_until(open_driver(url), 2)] == ids

    mock.inject(chat_id, "@agent status", reply=False)
    aio.run(driver.refresh())
    (new,) = read_until(driver, 1)
    assert (new.text, new.id) == ("@agent status", mock.messages(chat_id)[2].id)



def test_a_quoted_command_is_read_as_a_quote_and_never_runs(mock, chat_id, open_driver, read_until, aio):
    """A block quote shows no `>` on the page: read as plain lines, a quoted `@agent undo` would run."""
    url = mock.chat_url(chat_id)
    driver = open_driver(url)
    typed = "> @agent undo\n> @agent commit [msg: x]\n\nSee above, and:\n\n> > @agent status\n>\n> quoted ```rust\n\n@agent help"
    mock.inject(chat_id, typed, reply=False)
    aio.run(driver.refresh())
    (quoted,) = read_until(driver, 1)

    assert quoted.text == "> @agent undo\n> @agent commit [msg: x]\n\nSee above, and:\n\n> > @agent status\n>\n> quoted ```rust\n\n@agent help"
    assert [c.verb for c in parse(quoted).commands] == ["help"]

@pytest.fixture
def persons_chromium(tmp_path: Path) -> Iterator[str]:
    """The person's own browser, started with remote debugging (what `--cdp` attaches to)."""
    port = free_port()
    binary = chromium_path()
    assert binary is not None, "the CDP test needs a Chromium binary"
    proc = subprocess.Popen(
        [str(binary), "--headless=new", f"--remote-debugging-port={port}", f"--user-data-dir={tmp_path / 'profile'}", *launch_args(), "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_attaching_over_cdp_reads_the_persons_tab_live(playwright: Playwright, persons_chromium, mock, chat_id, open_driver, read_until, aio):
    deadline = time.monotonic() + 15
    while True:
        try:
            browser = playwright.chromium.connect_over_cdp(persons_chromium)
            break
        except Exception:
            assert time.monotonic() < deadline, "the person's browser did not open its debugging port"
            time.sleep(0.2)
    context = browser.contexts[0]
    context.add_cookies(mock.storage_state()["cookies"])
    tab: Page = context.pages[0]
    url = mock.chat_url(chat_id)
    tab.goto(url)
    tab.locator(COMPOSER).click()
    tab.keyboard.insert_text("first message")
    tab.keyboard.press("Enter")

    driver = open_driver(url, cdp_url=persons_chromium, storage_state=None)
    first = read_until(driver, 2)
    tab.locator(COMPOSER).click()
    tab.keyboard.insert_text("@agent status")
    tab.keyboard.press("Enter")
    second = read_until(driver, 2)

    assert [m.text for m in first + second] == ["first message", "Noted.", "@agent status", "Noted."]
    assert [m.id for m in first + second] == [t.id for t in mock.messages(chat_id)]
    aio.run(driver.close())
    assert tab.evaluate("document.querySelectorAll('.message-bubble').length") == 4, "detaching must leave the tab alone"
    browser.close()


def test_a_dom_change_wakes_the_reader_through_the_page_binding(mock, chat_id, open_driver, aio, mock_profile):
    slow_poll = mock_profile.model_copy(update={"timing": mock_profile.timing.model_copy(update={"poll_ms": 60_000})})
    driver = open_driver(mock.chat_url(chat_id, live=1), profile=slow_poll)
    assert aio.run(driver.read_new()) == []
    waiting = asyncio.run_coroutine_threadsafe(driver.wait_for_activity(30.0), aio.loop)
    mock.inject(chat_id, "wake up", reply=False)
    assert waiting.result(40) is True, "only the MutationObserver binding returns True (the fallback returns False)"
    assert [m.text for m in aio.run(driver.read_new())] == ["wake up"]


def test_a_page_that_stood_still_for_the_window_is_idle_at_the_first_look(mock, chat_id, open_driver, read_until, aio, mock_profile):
    """The stability window counts from the page's last DOM change, not from when the bridge first looked."""
    driver = open_driver(mock.chat_url(chat_id, live=1))
    mock.inject(chat_id, "@agent status")
    read_until(driver, 2)
    time.sleep(2 * mock_profile.timing.stability_ms / 1000)
    assert aio.run(driver.is_idle()), "the page has not changed for twice the window"
    mock.set_chat(chat_id, stall=True)
    mock.inject(chat_id, "and now a stalled answer")
    wait = time.monotonic() + 10
    while not any(t.status == "streaming" for t in mock.messages(chat_id)) and time.monotonic() < wait:
        time.sleep(0.05)
    time.sleep(0.5)
    assert not aio.run(driver.is_idle()), "the assistant is writing"
    mock.set_chat(chat_id, stall=False)
