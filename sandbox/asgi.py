"""What the REST service and the MCP server's HTTP transport share: the bearer token, error responses, the queue."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.to_thread
from loguru import logger
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.errors import Busy, ErrorBody, SandboxError, Unauthorized
from sandbox.operations import Request, operation_of

if TYPE_CHECKING:
    from sandbox.executor import Executor

R = TypeVar("R")

MIN_TOKEN_CHARS = 16
QUEUE_TIMEOUT = 1800.0
"""Seconds a call may wait for the workspace before it is refused as busy."""


def error_response(status: int, body: ErrorBody, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An error as the JSON response every endpoint gives."""
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def sandbox_error_response(exc: SandboxError) -> JSONResponse:
    """A typed error as its status and body (with the bearer challenge for a 401)."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, ErrorBody(code=exc.code, message=str(exc)), headers)


# the token ----------------------------------------------------------------------------------
def check_token(token: str) -> str:
    """The token if it is usable; raises ValueError otherwise (there is no default token)."""
    token = token.strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"the sandbox token must have at least {MIN_TOKEN_CHARS} characters")
    return token


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison (of digests, so not even the length leaks)."""
    digest = hashlib.sha256((given or "").encode("utf-8", "surrogateescape")).digest()
    return hmac.compare_digest(digest, hashlib.sha256(token.encode()).digest())


class BearerGuard:
    """Lets HTTP requests through only with `Authorization: Bearer <token>` (paths in `open_paths` need none)."""

    def __init__(self, app: ASGIApp, token: str, *, open_paths: Collection[str] = (), what: str = "the sandbox service") -> None:
        self.app = app
        self.token = check_token(token)
        self.open_paths = frozenset(open_paths)
        self.what = what

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.open_paths:
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer" or not token_matches(given.strip(), self.token):
                refused = Unauthorized(f"missing or wrong bearer token for {self.what}")
                logger.warning(f"{scope['method']} {scope['path']}: {refused.code}: {refused}")
                await sandbox_error_response(refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# one call at a time -------------------------------------------------------------------------
class SerialRunner:
    """Runs executor calls one at a time in a worker thread; waiting calls queue in order (no thread held while waiting)."""

    def __init__(self, wait: float = QUEUE_TIMEOUT) -> None:
        self.wait = wait
        self._lock = anyio.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def run(self, executor: Executor, request: Request[R]) -> R:
        """`executor.run(request)` once every earlier call has finished; `Busy` after waiting `wait` seconds."""
        queued = time.monotonic()
        try:
            with anyio.fail_after(self.wait):
                await self._lock.acquire()
        except TimeoutError:
            raise Busy(f"the workspace stayed busy for {self.wait:g} s; try again later") from None
        started = time.monotonic()
        try:
            # Not abandoned on cancellation: the lock is held until the thread has really finished.
            return await anyio.to_thread.run_sync(executor.run, request)
        finally:
            self._lock.release()
            name = operation_of(request).name
            logger.debug(f"{name}: waited {started - queued:.2f}s, ran {time.monotonic() - started:.2f}s")
