"""The grok profile on the grok-2026 fixture: grok.com as public tools describe it in autumn 2026.

A virtualized transcript whose rows move by transforms and are recycled, ids on wrappers, Shiki code
blocks, thinking sections, a tiptap composer beside a hidden textarea, a send button that exists only
with text, the gateway WebSocket and the REST history API, a sign-in page on another origin, a
rate-limit toast. Both read routes: the history API (`api`) and the page alone (`dom`).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, Request

from bridge.chat.errors import ErrorBubble, LoggedOut, RateLimited, UIDrift
from bridge.chat.login import login
from bridge.chat.markdown import fences, same_post
from bridge.chat.profile import Profile
from bridge.mockchat.client import MockChatClient
from bridge.models import CodeBlock
from tests.browser.conftest import mcp_posts
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser

CODE_TURN = "Turn {i}: `adjust_to_monday` case.\n\n```rust\nfn case_{i}(day: u32) -> u32 {{\n\tday - {i}  \n}}\n```"
MOUNTED = "document.querySelectorAll('[data-testid=\"chat-transcript-scroller\"] [id^=\"response-\"]').length"
VISIBLE_ORDER = """() => [...document.querySelectorAll('[id^="response-"]')]
  .filter((el) => el.checkVisibility({ visibilityProperty: true }))
  .map((el) => [el.id.slice(9), el.getBoundingClientRect().top])"""


@pytest.fixture(params=["api", "dom"])
def route(request: pytest.FixtureRequest, grok_profile: Profile, grok_dom_profile: Profile) -> Profile:
    return grok_profile if request.param == "api" else grok_dom_profile


def fill(mock: MockChatClient, chat_id: str, start: int, count: int) -> list[str]:
    """Turns written in another session: developer and assistant alternating, each with a tabbed code block;
    every fifth assistant turn has a thinking section that holds a command."""
    ids = []
    for i in range(start, start + count):
        role = "user" if i % 2 == 0 else "assistant"
        thinking = f"Thinking about case {i}.\n\n@agent commit [msg: case {i}]" if i % 10 == 5 else ""
        ids.append(mock.inject(chat_id, CODE_TURN.format(i=i), role=role, reply=False, thinking=thinking))
    return ids


def test_a_60_turn_conversation_is_read_exactly_across_a_restart(mock, chat_id, open_driver, read_until, aio, route):
    first_ids = fill(mock, chat_id, 0, 30)
    first = open_driver(mock.grok_url(chat_id), profile=route)
    shown = wait_for(lambda: aio.run(first.page.evaluate(VISIBLE_ORDER)), timeout=10, what="the history to render")
    seen = read_until(first, 30 if route.api else len(shown))
    assert seen[-1].id == first_ids[-1]
    last_known = first.last_seen_id
    aio.run(first.close())  # the bridge stops; 30 more turns are written meanwhile
    later_ids = fill(mock, chat_id, 30, 30)

    restarted = open_driver(mock.grok_url(chat_id), profile=route)
    assert aio.run(restarted.page.evaluate(MOUNTED)) < 20, "the page mounts only the turns near the viewport"
    restarted.last_seen_id = last_known
    got = read_until(restarted, 30)

    server = mock.messages(chat_id)[30:]
    assert [m.id for m in got] == later_ids == [t.id for t in server]
    assert [m.role for m in got] == ["developer" if t.role == "user" else "assistant" for t in server]
    for message, turn in zip(got, server, strict=True):
        assert message.code_blocks == [CodeBlock(text=b.text, info="rust") for b in fences(turn.markdown)]
        assert "@agent commit" not in message.text, "a thinking section is not the turn's text"
        if route.api:
            assert message.text == turn.markdown
        else:
            assert same_post(turn.markdown, message.text)
    assert aio.run(restarted.read_new()) == []


def test_rows_are_recycled_so_chat_order_is_screen_order_not_dom_order(mock, chat_id, open_driver, read_until, aio, grok_dom_profile):
    ids = fill(mock, chat_id, 0, 24)
    driver = open_driver(mock.grok_url(chat_id), profile=grok_dom_profile)
    driver.last_seen_id = ids[2]  # far above the mounted window: the reader scrolls up, then down again
    got = read_until(driver, 21)
    assert [m.id for m in got] == ids[3:]
    dom_order = aio.run(driver.page.evaluate("() => [...document.querySelectorAll('[id^=\"response-\"]')].map((el) => el.id.slice(9))"))
    screen = [i for i, _ in sorted(aio.run(driver.page.evaluate(VISIBLE_ORDER)), key=lambda x: x[1])]
    assert dom_order != screen, "the fixture must recycle rows out of document order"
    assert screen == [i for i in ids if i in screen]


def test_shiki_code_blocks_with_tabs_are_read_byte_for_byte(mock, chat_id, open_driver, read_until, aio, route):
    driver = open_driver(mock.grok_url(chat_id), profile=route)
    aio.run(driver.post("a shiki sample please"))
    answer = read_until(driver, 2)[1]
    markdown = mock.messages(chat_id)[1].markdown
    assert [b.text for b in answer.code_blocks] == [b.text for b in fences(markdown)]
    assert answer.code_blocks[1].text.endswith('+    \tnew("<b>&amp;");  ')
    assert [b.info for b in answer.code_blocks] == ["rust", "diff"]
    assert "Copy" not in answer.text, "a code block's header is not the message's text"
    html = aio.run(driver.page.evaluate("document.querySelector('[data-testid=\"code-block\"] pre').outerHTML"))
    assert 'class="line"' in html and "language-" not in html


def test_a_command_in_a_thinking_section_is_not_run(mock, chat_id, start_bridge, route):
    mock.inject(chat_id, "Hello there.", reply=False)  # the conversation exists before the bridge attaches
    start_bridge(mock.grok_url(chat_id, live=1), profile=route, second_session=False).attached()
    mock.inject(chat_id, "Please think it over before acting.")
    thought = wait_for(lambda: [t for t in mock.messages(chat_id) if "written while thinking" in t.thinking and t.status == "done"], what="the thinking reply")
    mock.inject(chat_id, "@agent status")
    posts = wait_for(lambda: mcp_posts(mock, chat_id), timeout=60, what="MCP's status post")
    time.sleep(1.0)
    assert len(mcp_posts(mock, chat_id)) == 1 and "Workspace of trade_report" in posts[0]
    assert "@agent commit" in thought[0].thinking and "Committed" not in "".join(mcp_posts(mock, chat_id))


def test_a_post_into_the_tiptap_composer_is_confirmed(mock, chat_id, open_driver, read_until, aio, route):
    mock.inject(chat_id, "Hello there.", reply=False)
    driver = open_driver(mock.grok_url(chat_id), profile=route)
    read_until(driver, 1)
    text = "@agent code test #aggr_trades\n\n```diff\n+\tlet x = 1;  \n```\nЛинии\tс табами"

    posted = aio.run(driver.post(text))

    turns = mock.messages(chat_id)
    assert (turns[1].id, turns[1].markdown) == (posted, text), "sent once, byte for byte"
    page: Page = driver.page
    assert aio.run(page.evaluate("document.querySelector('form[data-composer] textarea').value")) == ""
    assert aio.run(page.get_attribute("#model-select-trigger", "aria-expanded")) == "false", "the model picker was never clicked"
    assert "?rid=" in driver.url and driver.chat_id == chat_id
    mine = read_until(driver, 2)[0]
    assert mine.id == posted and (mine.text == text if route.api else same_post(text, mine.text))


def test_a_post_is_confirmed_after_the_last_turn_scrolled_out_of_the_mounted_rows(mock, chat_id, open_driver, aio, grok_dom_profile):
    fill(mock, chat_id, 0, 4)
    quick = grok_dom_profile.model_copy(update={"timing": grok_dom_profile.timing.model_copy(update={"confirm_ms": 3000})})
    driver = open_driver(mock.grok_url(chat_id), profile=quick)
    first = aio.run(driver.post("a long listing please"))  # the long reply pushes the old last turn out of the rows
    second = aio.run(driver.post("and once more: a long listing please"))
    assert [t.id for t in mock.messages(chat_id) if t.role == "user"][-2:] == [first, second]


def test_the_hidden_textarea_is_never_taken_for_the_composer(mock, chat_id, open_driver, aio, grok_profile):
    mock.inject(chat_id, "Hello there.", reply=False)
    driver = open_driver(mock.grok_url(chat_id), profile=grok_profile)
    aio.run(driver.page.evaluate("document.querySelector('.tiptap').remove()"))  # as before the editor hydrates
    assert aio.run(driver.inspect("composer")) is None
    with pytest.raises(UIDrift) as drift:
        aio.run(driver.post("@agent status"))
    assert drift.value.name == "composer"
    assert [t.markdown for t in mock.messages(chat_id)] == ["Hello there."]


def test_the_api_route_and_the_dom_route_give_the_same_messages(mock, chat_id, open_driver, read_until, aio, grok_profile, grok_dom_profile):
    fill(mock, chat_id, 0, 6)
    via_page = open_driver(mock.grok_url(chat_id), profile=grok_dom_profile)
    aio.run(via_page.post("a shiki sample please"))
    aio.run(via_page.post("Please think it over."))
    mock.wait_settled(chat_id, 10)
    via_api = open_driver(mock.grok_url(chat_id), profile=grok_profile)
    via_page.last_seen_id = via_api.last_seen_id = mock.messages(chat_id)[0].id

    api, dom = read_until(via_api, 9), read_until(via_page, 9)

    assert via_api.read_route == "api" and via_page.read_route == "dom"
    assert [(m.id, m.role) for m in api] == [(m.id, m.role) for m in dom]
    assert [[b.text for b in m.code_blocks] for m in api] == [[b.text for b in m.code_blocks] for m in dom]
    assert all(same_post(a.text, d.text) for a, d in zip(api, dom, strict=True))
    assert [m.text for m in api] == [t.markdown for t in mock.messages(chat_id)[1:]]


def test_new_turns_come_by_id_and_the_whole_history_stands_in_when_that_fails(mock, chat_id, open_driver, read_until, aio, grok_profile):
    fill(mock, chat_id, 0, 4)
    for load in (grok_profile.api.load, "/rest/app-chat/conversations/{chat_id}/moved-away"):
        profile = grok_profile.model_copy(update={"api": grok_profile.api.model_copy(update={"load": load})})
        driver = open_driver(mock.grok_url(chat_id, live=1), profile=profile)
        read_until(driver, len(mock.messages(chat_id)))
        typed = [mock.inject(chat_id, f"typed elsewhere {n}", reply=False) for n in range(2)]
        assert [m.id for m in read_until(driver, 2)] == typed and driver.read_route == "api"


def test_a_read_after_a_page_load_fetches_the_text_of_the_new_turns_only(mock, chat_id, open_driver, aio, grok_profile):
    """The conversation's shape from the graph (ids only), the text of the turns not known by id: a long chat is never
    fetched whole, not even right after a reload."""
    earlier = fill(mock, chat_id, 0, 60)
    driver = open_driver(mock.grok_url(chat_id), profile=grok_profile)
    typed = [mock.inject(chat_id, f"typed elsewhere {n}", reply=False) for n in range(2)]
    fetched: list[tuple[str, str, Any]] = []

    async def reload_and_read() -> list[str]:
        await driver.refresh()

        def seen(request: Request) -> None:
            if "/rest/app-chat/" in request.url:
                fetched.append((request.method, urlsplit(request.url).path.rsplit("/", 1)[-1], request.post_data_json))

        driver.page.on("request", seen)
        view = await driver.read(earlier[-1], earlier, tail=True)
        return [m.id for m in view.messages]

    assert aio.run(reload_and_read()) == typed
    assert ("GET", "responses", None) not in fetched, "the whole history was fetched"
    assert ("GET", "response-node", None) in fetched
    assert [ids for method, _, body in fetched if method == "POST" for ids in body["responseIds"]] == typed


def test_a_reply_is_complete_at_its_end_event_without_the_dom_wait(mock, chat_id, open_driver, read_until, aio, grok_profile):
    patient = grok_profile.model_copy(update={"timing": grok_profile.timing.model_copy(update={"stability_ms": 120_000})})
    driver = open_driver(mock.grok_url(chat_id), profile=patient)
    aio.run(driver.post("please send the slow patch"))
    user, answer = read_until(driver, 2, timeout=20)  # by the DOM's indicators alone it would take two minutes
    assert answer.text == mock.messages(chat_id)[1].markdown and mock.messages(chat_id)[1].status == "done"
    wait_for(lambda: aio.run(driver.is_idle()), timeout=10, what="idle by the end event")  # the DOM alone: two minutes


def test_a_failed_reply_is_an_error_bubble_once(mock, chat_id, open_driver, read_until, aio, route):
    driver = open_driver(mock.grok_url(chat_id), profile=route)
    mock.set_chat(chat_id, error_next="Something went wrong. Please try again.")
    aio.run(driver.post("hello"))
    read_until(driver, 1)

    async def until_bubble() -> ErrorBubble:
        for _ in range(100):
            try:
                assert await driver.read_new() == []
            except ErrorBubble as bubble:
                return bubble
            await driver.wait_for_activity(0.5)
        raise AssertionError("no error bubble was reported")

    bubble = aio.run(until_bubble())
    assert (bubble.message_id, bubble.text) == (mock.messages(chat_id)[1].id, "Something went wrong. Please try again.")
    assert aio.run(driver.read_new()) == []


def test_a_new_chat_at_the_start_page_gets_its_id_on_the_first_send(mock, open_driver, read_until, aio, grok_profile):
    driver = open_driver(mock.grok_url(), profile=grok_profile)
    assert (driver.chat_id, driver.read_route) == ("", "dom")
    assert aio.run(driver.read_new()) == []

    posted = aio.run(driver.post("@agent help"))

    chat_id = driver.chat_id
    assert chat_id and driver.url.startswith(mock.grok_url(chat_id)) and driver.read_route == "api"
    assert [t.id for t in mock.messages(chat_id)][:1] == [posted]
    assert [m.text for m in read_until(driver, 2)] == ["@agent help", "Noted."]


def test_a_project_chat_is_read_by_its_chat_id(mock, chat_id, open_driver, read_until, grok_profile):
    ids = fill(mock, chat_id, 0, 4)
    driver = open_driver(mock.grok_url(chat_id, project="5d1c0a9e"), profile=grok_profile)
    assert driver.chat_id == chat_id
    assert [m.id for m in read_until(driver, 4)] == ids


def test_the_sign_in_redirect_is_logged_out(mock, chat_id, open_driver, aio, route):
    mock.inject(chat_id, "Hello there.", reply=False)
    with pytest.raises(LoggedOut, match="sign-in"):
        open_driver(mock.grok_url(chat_id), profile=route, storage_state=None)
    driver = open_driver(mock.grok_url(chat_id), profile=route)
    mock.set_room(logout_all=True)
    with pytest.raises(LoggedOut):
        aio.run(driver.refresh())
    assert driver.page.url.startswith("http://accounts.localhost:")


def test_a_logged_out_page_is_never_ready_however_late_its_redirect(mock, chat_id, open_driver, aio, route):
    """The logged-out shell (composer included) shows while the redirect to the sign-in page has not landed: the
    session check says logged out, whatever the timing (here the redirect would come after the test)."""
    mock.inject(chat_id, "Hello there.", reply=False)
    with pytest.raises(LoggedOut, match="session check /rest/user-settings answered 401"):
        open_driver(mock.grok_url(chat_id, redirect_ms=600_000), profile=route, storage_state=None)
    driver = open_driver(mock.grok_url(chat_id, redirect_ms=600_000), profile=route)
    mock.set_room(logout_all=True)
    with pytest.raises(LoggedOut, match="session check"):
        aio.run(driver.refresh())


async def sign_in_on_accounts(page: Page) -> None:
    await page.wait_for_url("**/sign-in?**")
    await page.fill('input[name="email"]', "dev@example.com")
    await page.fill('input[name="password"]', "hunter22")
    await page.get_by_test_id("sign-in-submit").click()


def test_login_through_the_accounts_origin_saves_a_session_the_driver_uses(mock, chat_id, aio, grok_profile, tmp_path, open_driver):
    mock.inject(chat_id, "Hello there.", reply=False)
    state = tmp_path / "grok.json"
    aio.run(login(grok_profile, state, url=mock.grok_url(chat_id), headless=True, timeout=20, person=sign_in_on_accounts))
    driver = open_driver(mock.grok_url(chat_id), profile=grok_profile, storage_state=state)
    assert aio.run(driver.read_new())[0].text == "Hello there."


def test_a_rate_limit_toast_is_a_typed_state_and_nothing_is_posted(mock, chat_id, open_driver, read_until, aio, grok_profile):
    mock.inject(chat_id, "Hello there.", reply=False)
    driver = open_driver(mock.grok_url(chat_id), profile=grok_profile)
    mock.set_chat(chat_id, rate_limit=True)

    with pytest.raises(RateLimited, match="reached your limit"):
        aio.run(driver.post("@agent status"))

    assert [t.markdown for t in mock.messages(chat_id)] == ["Hello there."]
    mock.set_chat(chat_id, rate_limit=False)
    wait_for(lambda: not aio.run(driver.page.locator("[data-sonner-toast]").count()), timeout=10, what="the toast to go")
    posted = aio.run(driver.post("@agent status"))
    assert [t.markdown for t in mock.messages(chat_id)][1:2] == ["@agent status"] and mock.messages(chat_id)[1].id == posted
