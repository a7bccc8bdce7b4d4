"""`devspace login` (a scripted person against the mock's login form) and `devspace doctor`."""

from __future__ import annotations

import stat

import pytest
from playwright.async_api import Page
from bridge.chat.doctor import DoctorReport, check_page, run_doctor
from bridge.chat.errors import LoggedOut
from bridge.chat.login import login
from bridge.chat.page import DriverOptions

pytestmark = pytest.mark.browser


async def sign_in(page: Page) -> None:
    """What the person does in the visible browser."""
    await page.get_by_test_id("sign-in-link").click()
    await page.fill('input[name="username"]', "dev@example.com")
    await page.fill('input[name="password"]', "hunter22")
    await page.get_by_test_id("login-submit").click()


def test_login_saves_a_0600_state_that_logs_the_driver_in(mock, chat_id, aio, mock_profile, tmp_path, open_driver):
    state = tmp_path / "sessions" / "mock.json"
    url = mock.chat_url(chat_id)

    aio.run(login(mock_profile, state, url=url, headless=True, timeout=20, person=sign_in))

    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    driver = open_driver(url, storage_state=state)
    posted = aio.run(driver.post("after login"))
    assert [t.id for t in mock.messages(chat_id)][:1] == [posted]


def test_login_that_never_completes_is_logged_out(mock, chat_id, aio, mock_profile, tmp_path):
    state = tmp_path / "never.json"
    with pytest.raises(LoggedOut):
        aio.run(login(mock_profile, state, url=mock.chat_url(chat_id), headless=True, timeout=1))
    assert not state.exists()


def test_doctor_reports_a_broken_selector(mock, chat_id, open_driver, aio, mock_profile):
    driver = open_driver(mock.chat_url(chat_id))
    aio.run(driver.post("please send the slow patch"))
    mock.wait_settled(chat_id, 2)

    healthy_rows = aio.run(check_page(driver))
    driver.profile = mock_profile.model_copy(update={"send": ['button[data-testid="send-renamed"]', "button[[invalid"]})
    rows = aio.run(check_page(driver))

    counts: dict[str, int] = {}
    for row in rows:
        counts[row.part] = max(counts.get(row.part, -1), row.matches)
    parts = ("composer", "messages.container", "turns with an id", "turns told as user", "turns told as assistant", "messages.code_block")
    assert [counts[k] for k in parts] == [1, 2, 2, 1, 1, 1]
    assert [(r.part, r.selector, r.matches, r.status) for r in rows if not r.ok] == [
        ("send", 'button[data-testid="send-renamed"]', 0, "BROKEN"), ("send", "button[[invalid", -1, "invalid CSS")]
    assert all(r.ok for r in healthy_rows)
    assert [(r.status, r.route) for r in healthy_rows if r.part == "composer"][0] == ("used", "post")
    report = DoctorReport(profile="mock", opened=driver.url, rows=rows)
    text = report.markdown()
    assert any("send-renamed" in line and "BROKEN" in line for line in text.splitlines())
    assert "result: **BROKEN: send**" in text


def test_doctor_opens_a_page_whose_composer_is_gone(mock, chat_id, mock_profile, state_file, aio, tmp_path):
    composer = mock_profile.composer.model_copy(update={"selectors": ["div.renamed-editor"]})
    timing = mock_profile.timing.model_copy(update={"ready_ms": 500})
    profile = mock_profile.model_copy(update={"composer": composer, "timing": timing})
    options = DriverOptions(url=mock.chat_url(chat_id), storage_state=state_file, artifacts_dir=tmp_path)
    report = aio.run(run_doctor(profile, options))
    assert [(r.part, r.ok) for r in report.rows if r.part in ("composer", "send")] == [("composer", False), ("send", True)]
    assert report.broken() == ["composer"]
