"""Sandbox fixtures: stray-process checks (the crate copy lives in tests/conftest.py)."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

def _kill_marked(marker: str) -> list[int]:
    """Kill the live processes (other than this one) whose command line holds `marker`; return their pids."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes() and "State:\tZ" not in (entry / "status").read_text():
                pids.append(int(entry.name))
        except OSError:
            continue
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


@pytest.fixture
def sleep_marker() -> str:
    """A `sleep` duration no other process on the machine uses, to find a test's processes by."""
    return f"{uuid.uuid4().int % 10**6 + 10**6}.{uuid.uuid4().int % 1000}"


@pytest.fixture
def reap_marked() -> Callable[[str], list[int]]:
    """Kill and report processes left carrying a marker, so a failing test leaves nothing behind."""
    return _kill_marked
