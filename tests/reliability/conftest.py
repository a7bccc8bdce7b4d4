"""Reliability fixtures: one mock chat for the session, and bridge worlds kept outside /tmp.

A world lives under the user's cache folder, not under /tmp, because the cargo sandbox mounts a
private /tmp: a DevSpace home under /tmp would be invisible to a hostile build anyway, and the
secret-leak tests would pass without proving anything.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.harness import ChatServer, Rig

WORLDS = Path.home() / ".cache" / "devspace-reliability"


@pytest.fixture(scope="session")
def chat_server() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


@pytest.fixture
def world() -> Iterator[Path]:
    root = WORLDS / uuid.uuid4().hex[:12]
    root.mkdir(parents=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def make_rig(chat_server: ChatServer, world: Path) -> Callable[..., Rig]:
    def make(**options: Any) -> Rig:
        return Rig(world, chat_server, **options)

    return make
