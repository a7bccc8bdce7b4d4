"""The sandbox service on a real uvicorn server over a throwaway git copy of the example crate."""

from __future__ import annotations

import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from sandbox.client import HttpExecutor
from sandbox.config import SandboxConfig
from sandbox.executor import Executor
from sandbox.local import LocalExecutor
from sandbox.service import create_app
from sandbox.serving import BackgroundServer


@pytest.fixture
def fresh_logging() -> Iterator[None]:
    """For tests that run the project's log set-up (`setup_logging`): loguru's defaults again afterwards."""
    yield
    logger.remove()
    logger.configure(patcher=lambda record: None)
    logger.add(sys.stderr)


@pytest.fixture
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def local(crate_copy: Path, tmp_path: Path) -> Iterator[LocalExecutor]:
    executor = LocalExecutor(crate_copy, SandboxConfig(home=tmp_path / "home"))
    yield executor
    executor.close()


@pytest.fixture
def serve(token: str) -> Iterator[Callable[..., BackgroundServer]]:
    """Start `create_app(executor, token, **options)` on a free loopback port; stopped after the test."""
    servers: list[BackgroundServer] = []

    def start(executor: Executor, **options: Any) -> BackgroundServer:
        server = BackgroundServer(create_app(executor, token, **options)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def service(serve: Callable[..., BackgroundServer], local: LocalExecutor) -> BackgroundServer:
    return serve(local)


@pytest.fixture
def remote(service: BackgroundServer, token: str) -> Iterator[HttpExecutor]:
    client = HttpExecutor(service.url, token=token, timeout=120)
    yield client
    client.close()


@pytest.fixture
def second_crate(crate_copy: Path, tmp_path: Path) -> Path:
    """Another copy of the same repository (its own worktrees), for side-by-side runs."""
    return Path(shutil.copytree(crate_copy, tmp_path / "second" / crate_copy.name, symlinks=True))
