"""Typed page states instead of timeouts: logged out, challenge, error bubble, UI drift, browser gone."""

from __future__ import annotations

import pytest

from bridge.chat.errors import BrowserGone, Challenge, ErrorBubble, LoggedOut, UIDrift
from bridge.chat.profile import Profile

pytestmark = pytest.mark.browser


def quick(profile: Profile, **changes: object) -> Profile:
    """The profile with a short readiness wait and the given top-level changes."""
    timing = profile.timing.model_copy(update={"ready_ms": 1000})
    return profile.model_copy(update={"timing": timing, **changes})


def test_a_missing_session_is_logged_out(mock, chat_id, open_driver):
    with pytest.raises(LoggedOut):
        open_driver(mock.chat_url(chat_id), storage_state=None)


def test_a_session_revoked_while_attached_is_logged_out(mock, chat_id, open_driver, aio):
    driver = open_driver(mock.chat_url(chat_id))
    mock.set_room(logout_all=True)
    with pytest.raises(LoggedOut):
        aio.run(driver.refresh())
    with pytest.raises(LoggedOut):
        aio.run(driver.read_new())


def test_a_challenge_page_is_reported_not_solved(mock, chat_id, open_driver):
    mock.set_room(challenge=True)
    with pytest.raises(Challenge):
        open_driver(mock.chat_url(chat_id))


def test_an_error_bubble_is_raised_once_after_the_turns_before_it(mock, chat_id, open_driver, read_until, aio):
    driver = open_driver(mock.chat_url(chat_id))
    mock.set_chat(chat_id, error_next="Something went wrong. Please try again.")
    aio.run(driver.post("hello"))
    (mine,) = read_until(driver, 1)

    async def until_bubble() -> ErrorBubble:
        for _ in range(100):
            try:
                assert await driver.read_new() == []
            except ErrorBubble as bubble:
                return bubble
            await driver.wait_for_activity(0.5)
        raise AssertionError("no error bubble was reported")

    bubble = aio.run(until_bubble())
    failed = mock.messages(chat_id)[1]
    assert mine.text == "hello"
    assert (bubble.message_id, bubble.text) == (failed.id, "Something went wrong. Please try again.")
    assert aio.run(driver.read_new()) == [], "the bubble is reported once"
    aio.run(driver.post("again"))
    assert [m.text for m in read_until(driver, 2)] == ["again", "Noted."]


def test_a_composer_selector_that_matches_nothing_is_drift_with_artifacts(mock, chat_id, open_driver, mock_profile, tmp_path):
    composer = mock_profile.composer.model_copy(update={"selectors": ["div.composer-that-is-gone"]})
    with pytest.raises(UIDrift) as drift:
        open_driver(mock.chat_url(chat_id), profile=quick(mock_profile, composer=composer))
    assert drift.value.name == "composer"
    assert drift.value.selectors == ["div.composer-that-is-gone"]
    assert sorted(p.suffix for p in drift.value.artifacts) == [".html", ".png"]
    assert all(p.is_file() and p.parent == tmp_path / "artifacts" for p in drift.value.artifacts)
    assert "chat-submit" in drift.value.artifacts[1].read_text()


def test_a_message_selector_that_matches_nothing_is_drift(mock, chat_id, open_driver, read_until, aio, mock_profile):
    mock.inject(chat_id, "@agent status", reply=False)
    good = open_driver(mock.chat_url(chat_id))
    (seen,) = read_until(good, 1)
    messages = mock_profile.messages.model_copy(update={"container": ["div.turn-renamed"]})
    drifted = open_driver(mock.chat_url(chat_id), profile=quick(mock_profile, messages=messages))
    drifted.last_seen_id = seen.id
    with pytest.raises(UIDrift) as drift:
        aio.run(drifted.read_new())
    assert drift.value.name == "messages.container"


def test_a_closed_page_is_browser_gone(mock, chat_id, open_driver, aio):
    driver = open_driver(mock.chat_url(chat_id))
    aio.run(driver.page.close())
    assert aio.run(driver.wait_for_activity(5.0)) is True, "a closed page wakes the reader"
    with pytest.raises(BrowserGone):
        aio.run(driver.read_new())


def test_a_selector_the_browser_cannot_parse_is_drift_at_start(mock, chat_id, open_driver, mock_profile):
    with pytest.raises(UIDrift) as drift:
        open_driver(mock.chat_url(chat_id), profile=mock_profile.model_copy(update={"send": ["button[[broken"]}))
    assert (drift.value.name, drift.value.selectors) == ("send", ["button[[broken"])
