"""`devspace doctor` as a user runs it, against the mock chat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bridge.mockchat.client import MockChatClient

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def doctor(home: Path, url: str, *extra: str, profile: str = "mock") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEVSPACE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", "doctor", "--profile", profile, "--url", url, *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_doctor_checks_every_selector(tmp_path: Path, mock: MockChatClient, chat_id: str) -> None:
    mock.write_storage_state(tmp_path / "home" / "sessions" / "mock.json")
    mock.inject(chat_id, "Here is a snippet:\n\n```rust\nfn main() {}\n```")  # turns to check the message parts on
    mock.wait_settled(chat_id, 2)
    healthy = doctor(tmp_path / "home", mock.chat_url(chat_id))
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "| composer | post |" in healthy.stdout and "| BROKEN |" not in healthy.stdout and "result: **healthy**" in healthy.stdout

    selectors = yaml.safe_load((ROOT / "selectors.yaml").read_text())
    selectors["profiles"]["mock"]["composer"]["selectors"] = ["div.no-such-composer"]
    drifted = tmp_path / "drifted.yaml"
    drifted.write_text(yaml.safe_dump(selectors))
    broken = doctor(tmp_path / "home", mock.chat_url(chat_id), "--selectors", str(drifted))
    assert broken.returncode == 1
    assert "| composer | post | `div.no-such-composer` | 0 (0) | BROKEN |" in broken.stdout and "result: **BROKEN: composer**" in broken.stdout


def test_doctor_on_todays_grok_page_reports_parts_and_routes(tmp_path: Path, mock: MockChatClient, chat_id: str) -> None:
    home = tmp_path / "home"
    mock.write_storage_state(home / "sessions" / "grok.json")
    mock.inject(chat_id, "Here is a snippet:\n\n```rust\nfn main() {}\n```", role="assistant", reply=False, thinking="Some thought.")
    mock.inject(chat_id, "@agent status", reply=False)

    run = doctor(home, mock.grok_url(chat_id), profile="grok")

    report = run.stdout
    assert run.returncode == 0, report + run.stderr
    assert report.startswith("### devspace doctor: profile `grok`")
    assert f"- conversation: `{chat_id}`; 2 turn(s) mounted" in report
    assert "- read: **api** — `GET /rest/app-chat/conversations/" in report and "2 of the 2 mounted turn(s) found there" in report
    assert "- completion: **websocket**" in report and "- post: **dom**" in report
    assert "- page state: logged in, idle\n- session check `GET /rest/user-settings` → 200" in report
    assert "| composer | post | `form[data-composer] div.tiptap.ProseMirror[contenteditable=\"true\"]` | 1 (1) | used |" in report
    assert "| composer | post | `form[data-composer] textarea` | 1 (0) | ok |" in report, "the hidden textarea is seen, never used"
    assert "| send | post | `form[data-composer] button[data-testid=\"chat-submit\"]` | 1 (1) | used |" in report
    assert "| messages.exclude | read fallback | `.thinking-container` | 1 (1) | ok |" in report
    assert "result: **healthy**" in report and "| BROKEN |" not in report
    assert mock.messages(chat_id)[-1].markdown == "@agent status", "the probe text was never sent"


def test_doctor_does_not_call_an_empty_new_chat_broken(tmp_path: Path, mock: MockChatClient) -> None:
    home = tmp_path / "home"
    mock.write_storage_state(home / "sessions" / "grok.json")
    run = doctor(home, mock.grok_url(), profile="grok")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "- conversation: none yet (a new chat gets its id on the first send); 0 turn(s) mounted" in run.stdout
    assert "- read: **dom** — a new chat: the history API is used once the chat has an id" in run.stdout
    assert "| messages.container | branch hint | `div[id^=\"response-\"]` | 0 (0) | no turns yet |" not in run.stdout
    assert "no turns yet" in run.stdout and "result: **healthy**" in run.stdout


def test_doctor_reports_a_history_api_that_does_not_answer(tmp_path: Path, mock: MockChatClient, chat_id: str) -> None:
    home = tmp_path / "home"
    mock.write_storage_state(home / "sessions" / "grok.json")
    mock.inject(chat_id, "@agent status", reply=False)
    selectors = yaml.safe_load((ROOT / "selectors.yaml").read_text())
    selectors["profiles"]["grok"]["api"]["history"] = "/rest/app-chat/v9/{chat_id}/responses"
    moved = tmp_path / "moved.yaml"
    moved.write_text(yaml.safe_dump(selectors))

    run = doctor(home, mock.grok_url(chat_id), "--selectors", str(moved), profile="grok")

    assert run.returncode == 1
    assert "- read: **dom** **BROKEN** — `GET /rest/app-chat/v9/" in run.stdout and "(HTTP 404)" in run.stdout
    assert "result: **BROKEN: route: read**" in run.stdout
