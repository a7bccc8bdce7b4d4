"""Fixtures shared by every test package: a throwaway git copy of the example crate."""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from bridge.example import copy_example

TEST_IDENTITY = git.Actor("DevSpace Tests", "tests@devspace.local")


@pytest.fixture
def crate_copy(tmp_path: Path) -> Path:
    """A copy of examples/trade_report in its own git repository with one commit (never build the original)."""
    return copy_example(tmp_path / "trade_report", TEST_IDENTITY)
