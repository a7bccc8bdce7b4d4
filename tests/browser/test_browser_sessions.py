"""A second session that sees others' turns only after a reload; a virtualized history after a restart."""

from __future__ import annotations

import json

import pytest

from bridge.chat.errors import LastSeenMissing
from sandbox.redact import redact

pytestmark = pytest.mark.browser


def test_a_second_session_reads_turns_typed_elsewhere_after_refresh(mock, chat_id, open_driver, read_until, aio, mock_profile):
    url = mock.chat_url(chat_id)
    first = open_driver(url)
    no_cadence = mock_profile.model_copy(update={"timing": mock_profile.timing.model_copy(update={"refresh_ms": 600_000})})
    second = open_driver(url, profile=no_cadence, second_session=True)  # reloads only when told to or after a post

    aio.run(first.post("typed in the first session"))
    mock.wait_settled(chat_id, 2)
    assert aio.run(second.read_new()) == [], "without live push a second session sees nothing before a reload"
    aio.run(second.refresh())
    seen = read_until(second, 2)
    assert [m.text for m in seen] == ["typed in the first session", "Noted."]
    assert [m.id for m in seen] == [t.id for t in mock.messages(chat_id)]

    read_until(first, 2)
    mock.inject(chat_id, "@agent status", reply=False)
    posted = aio.run(second.post("from the second session"))
    turns = mock.messages(chat_id)
    assert [t.markdown for t in turns if t.role == "user"] == ["typed in the first session", "@agent status", "from the second session"]
    assert [m.text for m in read_until(second, 3)] == ["@agent status", "from the second session", "Noted."]
    assert turns[3].id == posted
    aio.run(first.refresh())
    assert [m.text for m in read_until(first, 3)] == ["@agent status", "from the second session", "Noted."]


def test_a_restart_scrolls_a_virtualized_history_up_to_the_last_seen_turn(mock, chat_id, open_driver, read_until, aio):
    ids = [mock.inject(chat_id, f"turn {i}", reply=False) for i in range(40)]
    driver = open_driver(mock.chat_url(chat_id, window=12))
    assert aio.run(driver.page.evaluate("document.querySelectorAll('.message-bubble').length")) == 12

    driver.last_seen_id = ids[9]
    got = read_until(driver, 30)

    assert [m.id for m in got] == ids[10:]
    assert [m.text for m in got] == [f"turn {i}" for i in range(10, 40)]
    assert aio.run(driver.read_new()) == []


def test_a_last_seen_turn_that_is_not_in_the_chat_is_reported(mock, chat_id, open_driver, aio):
    for i in range(30):
        mock.inject(chat_id, f"turn {i}", reply=False)
    driver = open_driver(mock.chat_url(chat_id, window=12))
    driver.last_seen_id = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(LastSeenMissing):
        aio.run(driver.read_new())


def test_the_cookies_of_the_login_a_driver_loads_are_masked_at_every_launch(mock, chat_id, open_driver, state_file, aio):
    """The first launch and a relaunch after `devspace login` renewed the session both register its cookies."""
    cookie = json.loads(state_file.read_text())["cookies"][0]["value"]
    assert redact(f"printed {cookie}") == f"printed {cookie}"  # unknown before a driver loads the login
    driver = open_driver(mock.chat_url(chat_id))
    assert redact(f"printed {cookie}") == "printed [redacted]"
    mock.write_storage_state(state_file)  # a renewed login
    renewed = json.loads(state_file.read_text())["cookies"][0]["value"]
    assert renewed != cookie and redact(renewed) == renewed
    aio.run(driver.close())
    open_driver(mock.chat_url(chat_id))
    assert redact(f"printed {renewed}") == "printed [redacted]"


def test_every_nth_reload_renews_the_page_in_a_new_context_and_reading_goes_on(mock, chat_id, open_driver, read_until, aio, mock_profile):
    url = mock.chat_url(chat_id)
    mock.inject(chat_id, "before", reply=False)
    no_cadence = mock_profile.model_copy(update={"timing": mock_profile.timing.model_copy(update={"refresh_ms": 600_000})})
    driver = open_driver(url, profile=no_cadence, second_session=True, recycle_reloads=3)  # the reloads counted are the test's
    assert [m.text for m in read_until(driver, 1)] == ["before"]
    first_page = driver.page
    aio.run(driver.refresh())
    aio.run(driver.refresh())
    assert driver.page is first_page, "an ordinary reload keeps the page"
    mock.inject(chat_id, "while renewing", reply=False)
    aio.run(driver.refresh())  # the third: a new context
    assert driver.page is not first_page and first_page.is_closed()
    assert driver.page.context is not first_page.context
    assert [m.text for m in read_until(driver, 1)] == ["while renewing"], "nothing lost, nothing read twice"
    posted = aio.run(driver.post("after renewing"))  # still logged in, still watched
    assert [t.id for t in mock.wait_settled(chat_id, 4)][2] == posted
    assert [m.text for m in read_until(driver, 2)] == ["after renewing", "Noted."]
