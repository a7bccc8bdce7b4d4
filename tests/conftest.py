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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `docker` run where a Docker engine answers `docker info`; elsewhere they are skipped, saying why."""
    from tests.support.compose import engine_reachable

    needing = [item for item in items if item.get_closest_marker("docker")]
    if needing and not engine_reachable():
        skip = pytest.mark.skip(reason="no Docker engine reachable (`docker info` fails; set DOCKER_HOST to run them)")
        for item in needing:
            item.add_marker(skip)
