"""Fixtures shared by every test package: a throwaway git copy of the example crate."""

from __future__ import annotations

import shutil
from pathlib import Path

import git
import pytest

EXAMPLE_CRATE = Path(__file__).resolve().parents[1] / "examples" / "trade_report"
TEST_IDENTITY = git.Actor("DevSpace Tests", "tests@devspace.local")


@pytest.fixture
def crate_copy(tmp_path: Path) -> Path:
    """A copy of examples/trade_report in its own git repository with one commit (never build the original)."""
    assert (EXAMPLE_CRATE / "Cargo.toml").is_file(), f"the example crate is missing at {EXAMPLE_CRATE}"
    dest = tmp_path / "trade_report"
    shutil.copytree(EXAMPLE_CRATE, dest, ignore=shutil.ignore_patterns("target", ".git"))
    repo = git.Repo.init(dest, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", TEST_IDENTITY.name)
        config.set_value("user", "email", TEST_IDENTITY.email)
    repo.git.add(A=True)
    repo.index.commit("Initial import of trade_report", author=TEST_IDENTITY, committer=TEST_IDENTITY)
    repo.close()
    return dest
