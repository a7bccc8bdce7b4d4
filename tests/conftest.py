"""Fixtures shared by every test package: a throwaway git copy of the example crate, the log lines a test emits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import git
import pytest
from loguru import logger

from bridge.example import copy_example

TEST_IDENTITY = git.Actor("DevSpace Tests", "tests@devspace.local")


@pytest.fixture
def crate_copy(tmp_path: Path) -> Path:
    """A copy of examples/trade_report in its own git repository with one commit (never build the original)."""
    return copy_example(tmp_path / "trade_report", TEST_IDENTITY)


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every log line loguru emits in this process during the test, as `LEVEL: message`."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG", format="{level}: {message}")
    yield lines
    logger.remove(sink)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `docker` run where a Docker engine answers `docker info`; elsewhere they are skipped, saying why."""
    from tests.support.compose import engine_reachable

    needing = [item for item in items if item.get_closest_marker("docker")]
    if needing and not engine_reachable():
        skip = pytest.mark.skip(reason="no Docker engine reachable (`docker info` fails; set DOCKER_HOST to run them)")
        for item in needing:
            item.add_marker(skip)
