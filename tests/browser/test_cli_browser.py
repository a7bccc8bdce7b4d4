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


def doctor(home: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEVSPACE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", "doctor", "--profile", "mock", "--url", url, *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_doctor_checks_every_selector(tmp_path: Path, mock: MockChatClient, chat_id: str) -> None:
    mock.write_storage_state(tmp_path / "home" / "sessions" / "mock.json")
    mock.inject(chat_id, "Here is a snippet:\n\n```rust\nfn main() {}\n```")  # turns to check the message parts on
    mock.wait_settled(chat_id, 2)
    healthy = doctor(tmp_path / "home", mock.chat_url(chat_id))
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "composer" in healthy.stdout and "BROKEN" not in healthy.stdout

    selectors = yaml.safe_load((ROOT / "selectors.yaml").read_text())
    selectors["profiles"]["mock"]["composer"]["selectors"] = ["div.no-such-composer"]
    drifted = tmp_path / "drifted.yaml"
    drifted.write_text(yaml.safe_dump(selectors))
    broken = doctor(tmp_path / "home", mock.chat_url(chat_id), "--selectors", str(drifted))
    assert broken.returncode == 1
    assert "BROKEN" in broken.stdout and "no-such-composer" in broken.stdout
