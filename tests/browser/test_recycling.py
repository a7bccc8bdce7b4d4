"""Hours attached: the page, its context and the browser the bridge launched are renewed on ceilings (reload counts,
the browser's memory) with the login carried over, and the chat is read on without a turn lost or read twice."""

from __future__ import annotations

import os

import pytest

from bridge.chat import page as chat_page
from bridge.chat.footprint import argv, browser_mib, descendants, is_browser_side
from sandbox.redact import redact

pytestmark = pytest.mark.browser


def _playwright_drivers() -> set[int]:
    """The Playwright driver processes (`node … run-driver`) below this test process."""
    return {pid for pid in descendants(os.getpid()) if "run-driver" in argv(pid)}


def test_every_nth_renewal_relaunches_the_browser_it_launched_on_a_new_connection(mock, chat_id, open_driver, read_until, aio):
    url = mock.chat_url(chat_id)
    mock.inject(chat_id, "before", reply=False)
    drivers_before = _playwright_drivers()
    driver = open_driver(url, own_browser=True, second_session=True, recycle_reloads=2, relaunch_renewals=2, browser_ceiling_mib=None)
    own_driver = _playwright_drivers() - drivers_before
    assert len(own_driver) == 1, "the driver launched its browser on a Playwright connection of its own"
    assert [m.text for m in read_until(driver, 1)] == ["before"]
    first_page, first_browser = driver.page, driver.page.context.browser
    assert first_browser is not None

    aio.run(driver.refresh())
    aio.run(driver.refresh())  # the first renewal: a new context in the same browser
    assert first_page.is_closed() and driver.page.context.browser is first_browser and first_browser.is_connected()

    mock.inject(chat_id, "while relaunching", reply=False)
    aio.run(driver.refresh())
    aio.run(driver.refresh())  # the second renewal: a new browser on a new connection
    assert not first_browser.is_connected(), "the old browser is closed"
    assert driver.page.context.browser is not first_browser
    now = _playwright_drivers() - drivers_before
    assert len(now) == 1 and now != own_driver, "the old connection's driver process stopped, a new one runs"

    assert [m.text for m in read_until(driver, 1)] == ["while relaunching"], "nothing lost, nothing read twice"
    posted = aio.run(driver.post("after relaunching"))  # the login came along, the new page is watched
    assert [t.id for t in mock.wait_settled(chat_id, 4)][2] == posted
    assert [m.text for m in read_until(driver, 2)] == ["after relaunching", "Noted."]


def test_a_browser_over_its_memory_ceiling_is_relaunched_and_reading_goes_on(mock, chat_id, open_driver, read_until, aio, monkeypatch):
    monkeypatch.setattr(chat_page, "CEILING_EVERY", 1)  # look at the footprint on every reload
    url = mock.chat_url(chat_id)
    mock.inject(chat_id, "before", reply=False)
    driver = open_driver(url, own_browser=True, second_session=True, recycle_reloads=0, browser_ceiling_mib=1e6)
    assert [m.text for m in read_until(driver, 1)] == ["before"]
    browser = driver.page.context.browser
    assert browser is not None
    aio.run(driver.refresh())
    assert browser.is_connected(), "under its ceiling the browser stays"

    driver.options.browser_ceiling_mib = 1.0  # every Chromium takes more than 1 MiB
    mock.inject(chat_id, "over the ceiling", reply=False)
    aio.run(driver.refresh())
    assert not browser.is_connected() and driver.page.context.browser is not browser
    assert [m.text for m in read_until(driver, 1)] == ["over the ceiling"]
    relaunched = driver.page.context.browser
    aio.run(driver.refresh())
    assert driver.page.context.browser is relaunched, "a fresh browser over the ceiling lifts it: no relaunch at every check"


def test_a_browser_the_driver_did_not_launch_is_never_relaunched(mock, chat_id, open_driver, read_until, aio, monkeypatch):
    """A shared browser (and a person's over CDP) stays: only the context is renewed."""
    monkeypatch.setattr(chat_page, "CEILING_EVERY", 1)
    url = mock.chat_url(chat_id)
    mock.inject(chat_id, "before", reply=False)
    driver = open_driver(url, second_session=True, recycle_reloads=1, relaunch_renewals=1, browser_ceiling_mib=1.0)
    assert [m.text for m in read_until(driver, 1)] == ["before"]
    first_page, browser = driver.page, driver.page.context.browser
    mock.inject(chat_id, "renewed", reply=False)
    aio.run(driver.refresh())
    assert first_page.is_closed() and driver.page.context.browser is browser and browser.is_connected()
    assert [m.text for m in read_until(driver, 1)] == ["renewed"]


def test_the_footprint_counts_the_browser_and_playwrights_driver_only(open_driver, mock, chat_id):
    assert is_browser_side(["/usr/lib/chromium/chromium", "--type=renderer"])
    assert is_browser_side(["/opt/chrome-headless-shell/chrome-headless-shell", "--headless"])
    assert is_browser_side(["/venv/playwright/driver/node", "/venv/playwright/driver/package/cli.js", "run-driver"])
    assert not is_browser_side(["/usr/bin/node", "server.js"]) and not is_browser_side(["cargo", "test"]) and not is_browser_side([])
    before = browser_mib()
    assert before is not None
    open_driver(mock.chat_url(chat_id), own_browser=True)
    after = browser_mib()
    assert after is not None and after > before, "a launched browser and its driver show in the footprint"


def test_a_cookie_the_site_set_after_the_launch_is_masked_once_a_renewal_carries_it_over(mock, chat_id, open_driver, read_until, aio):
    """The login a renewal carries over is the context's now, not the saved file: a rotated session cookie is a secret too."""
    url = mock.chat_url(chat_id)
    mock.inject(chat_id, "before", reply=False)
    driver = open_driver(url, second_session=True, recycle_reloads=1)
    assert [m.text for m in read_until(driver, 1)] == ["before"]
    rotated = "rotated-session-" + os.urandom(12).hex()
    aio.run(driver.page.context.add_cookies([{"name": "sso-rotated", "value": rotated, "url": url}]))
    assert rotated in redact(f"token {rotated}"), "not a known secret before the renewal"
    aio.run(driver.refresh())  # a renewal: the new context gets the old one's storage state
    assert rotated not in redact(f"token {rotated}")
