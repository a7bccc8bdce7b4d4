"""The service runs code, so: a token on every endpoint but /healthz, capped bodies, clear client errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import typer
from loguru import logger
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from typer.testing import CliRunner

from sandbox.cli import sandbox_app
from sandbox.client import HttpExecutor
from sandbox.errors import ServiceUnavailable, Unauthorized
from sandbox.local import LocalExecutor
from sandbox.logs import setup_logging
from sandbox.operations import FilesRequest, StatusRequest
from sandbox.service import MAX_BODY, create_app
from sandbox.serving import BackgroundServer, free_port
from tests.service.doubles import ENDPOINTS, Recording

PROTECTED = [op for op in ENDPOINTS if op != ("GET", "/healthz")] + [("GET", "/openapi.json")]


class Untouchable:
    """An executor that fails the test if the service ever calls it."""

    def __getattr__(self, name: str) -> None:
        pytest.fail(f"the service called executor.{name} for a request it should have refused")


@pytest.fixture
def guarded(serve: Callable[..., BackgroundServer]) -> BackgroundServer:
    return serve(Untouchable(), max_body=64 * 1024)


def test_every_endpoint_refuses_a_missing_or_wrong_token(guarded: BackgroundServer) -> None:
    """One server, every protected route, every kind of bad credential (Untouchable fails the test if one slips by)."""
    for auth in (None, "Bearer wrong-token-of-good-length", "Basic dXNlcjpwYXNz", "Bearer", "Token abc"):
        headers = {"Authorization": auth} if auth else {}
        for method, path in PROTECTED:
            body = {"payload": "x"} if method == "POST" else None
            answer = httpx.request(method, guarded.url + path, headers=headers, json=body)
            case = f"{method} {path} with {auth!r}"
            assert answer.status_code == 401, case
            assert answer.headers["www-authenticate"] == "Bearer", case
            assert answer.json()["code"] == "unauthorized", case


def test_healthz_needs_no_token(guarded: BackgroundServer) -> None:
    answer = httpx.get(guarded.url + "/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "busy": False}


def test_the_right_token_gets_through(service: BackgroundServer, token: str) -> None:
    answer = httpx.get(service.url + "/status", headers={"Authorization": f"bearer {token}"})
    assert answer.status_code == 200 and answer.json()["branch"] == "devspace/mcp"


def test_client_errors_say_what_is_wrong(service: BackgroundServer, token: str) -> None:
    with pytest.raises(Unauthorized, match="refused the token"):
        HttpExecutor(service.url, token="not-" + token).run(StatusRequest())
    with pytest.raises(Unauthorized, match="no token is configured"):
        HttpExecutor(service.url).run(FilesRequest())
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnavailable, match=f"cannot reach the sandbox service at {closed}"):
        HttpExecutor(closed, token=token).run(StatusRequest())


def test_something_else_at_the_url_is_unavailable_not_a_crash(token: str) -> None:
    """A proxy in front of a stopped service answers without the service's JSON error body."""
    proxy = Starlette(routes=[Route("/status", lambda request: PlainTextResponse("Bad Gateway", status_code=502))])
    with BackgroundServer(proxy) as server, pytest.raises(ServiceUnavailable, match="answered HTTP 502 without an error body"):
        HttpExecutor(server.url, token=token).run(StatusRequest())


def test_a_client_timeout_is_unavailable(serve: Callable[..., BackgroundServer], local: LocalExecutor, token: str) -> None:
    gate = threading.Event()
    server = serve(Recording(local, gate))
    try:
        with pytest.raises(ServiceUnavailable, match="did not answer GET /status in time"):
            HttpExecutor(server.url, token=token, timeout=0.2).run(StatusRequest())
    finally:
        gate.set()


@pytest.mark.parametrize("token", ["", "   ", "short-token"])
def test_no_default_and_no_weak_token(local: LocalExecutor, token: str) -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        create_app(local, token)


def test_oversized_bodies_are_refused_by_length_and_by_stream(guarded: BackgroundServer, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limit = 64 * 1024
    declared = httpx.post(guarded.url + "/apply", content=b"x" * (limit + 1), headers=headers)
    assert declared.status_code == 413 and declared.json()["code"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the service has to count
        for _ in range(limit // 4096 + 2):
            yield b" " * 4096

    streamed = httpx.post(guarded.url + "/apply", content=chunks(), headers=headers)
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413 and streamed.json()["code"] == "too_large"
    # under the limit the body reaches validation (and the executor is still never called)
    small = httpx.post(guarded.url + "/apply", content=b"[]", headers=headers)
    assert small.status_code == 422 and small.json()["code"] == "validation_error"


def test_default_body_limit_is_8_mb() -> None:
    assert MAX_BODY == 8 * 1024 * 1024


def test_tokens_never_reach_the_log(service: BackgroundServer, token: str, tmp_path: Path, fresh_logging: None) -> None:
    log = tmp_path / "service.log"
    setup_logging("DEBUG", log)
    HttpExecutor(service.url, token=token).run(FilesRequest())
    with pytest.raises(Unauthorized):
        HttpExecutor(service.url, token=token[::-1]).run(StatusRequest())
    logger.info(f"a careless line with the token {token}")
    logger.remove()  # flushes the file
    text = log.read_text(encoding="utf-8")
    # lines written before each response was sent (the access-log line may come after the client moved on)
    assert "files: waited" in text and "#WARN: GET /status: unauthorized" in text
    assert token not in text and "[redacted]" in text


def _cli() -> typer.Typer:
    """The CLI as bridge/cli.py registers it."""
    app = typer.Typer()
    app.add_typer(sandbox_app, name="sandbox")
    return app


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_logging: None) -> Path:
    for name in list(os.environ):
        if name.startswith("DEVSPACE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEVSPACE_HOME", str(tmp_path / "devspace-home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_serve_refuses_to_start_without_a_token(clean_env: Path, crate_copy: Path) -> None:
    result = CliRunner().invoke(_cli(), ["sandbox", "serve", "--project", str(crate_copy), "--port", str(free_port())])
    assert result.exit_code == 2
    assert "no sandbox token" in result.output and "DEVSPACE_SANDBOX_TOKEN" in result.output
    assert not (clean_env / "devspace-home" / "workspaces").exists()  # refused before touching anything


def test_serve_refuses_a_weak_token_from_a_secret_file(
    clean_env: Path, crate_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = clean_env / "token"
    secret.write_text("tiny\n")
    monkeypatch.setenv("DEVSPACE_SANDBOX__TOKEN_FILE", str(secret))
    result = CliRunner().invoke(_cli(), ["sandbox", "serve", "--project", str(crate_copy)])
    assert result.exit_code == 2 and "at least 16 characters" in result.output


def test_serve_command_serves_the_project_on_loopback(clean_env: Path, crate_copy: Path, token: str) -> None:
    """The sandbox's own `serve` command as a process (`python -m sandbox serve`): up on 127.0.0.1, token required, logs in the project's style."""
    port = free_port()
    env = {**os.environ, "DEVSPACE_SANDBOX_TOKEN": token, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    log = clean_env / "serve.err"
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve", "--project", str(crate_copy), "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=err,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):  # up to ~30 s for the interpreter to start and the worktree to be made
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert HttpExecutor(url, token=token).run(StatusRequest()).branch == "devspace/mcp"
            with pytest.raises(Unauthorized):
                HttpExecutor(url).run(FilesRequest())
        finally:
            process.terminate()
            process.wait(15)
    text = log.read_text(encoding="utf-8")
    started = r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] #INFO: sandbox service for trade_report on http://127\.0\.0\.1:"
    assert re.search(started, text, re.M)
    assert "#WARN: GET /files: unauthorized" in text and token not in text
