"""Hostile and malformed chat input (the table in hostile.py), through the orchestrator with real files,
git and cargo; the world lives outside /tmp (see conftest.py)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from tests.reliability.conftest import WORLDS
from tests.reliability.hostile import CASES, Case, World, problems

pytestmark = [pytest.mark.reliability, pytest.mark.cargo]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = WORLDS / f"hostile-{uuid.uuid4().hex[:12]}"
    root.mkdir(parents=True)
    yield World(root)
    shutil.rmtree(root, ignore_errors=True)


def test_the_table_has_fifty_cases_or_more() -> None:
    assert len(CASES) >= 50 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gets_a_clear_reply_and_changes_nothing(world: World, case: Case) -> None:
    assert problems(world, case) == []
