"""The sandbox as a REST service: a FastAPI app over one Executor, behind a bearer token.

Every call but `/healthz` needs the token. Calls on the workspace run one at a time in a worker
thread; the others wait their turn in the event loop (no thread is held while waiting), and a
call that waits longer than `queue_timeout` is refused as `busy`. Request bodies are capped.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from loguru import logger
from pydantic import AfterValidator, BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.errors import ERRORS, Busy, PatchRefused, SandboxError
from sandbox.executor import Executor
from sandbox.models import (
    ApplyResult,
    ChatLink,
    CheckResult,
    CodeFile,
    CommitResult,
    FileEntry,
    Identity,
    Sandwich,
    UndoResult,
    WorkspaceStatus,
)
from sandbox.redact import redactor

T = TypeVar("T")

MAX_BODY = 8 * 1024 * 1024
"""Bytes a request body may have."""
MIN_TOKEN_CHARS = 16
QUEUE_TIMEOUT = 1800.0
"""Seconds a call may wait for the workspace before it is refused as busy."""


class Unauthorized(SandboxError):
    """The bearer token is missing or wrong."""

    code = "unauthorized"


WIRE_ERRORS: dict[str, type[SandboxError]] = {**ERRORS, Unauthorized.code: Unauthorized}
"""Every error class that crosses the wire, by its `code`."""

STATUS: dict[str, int] = {
    "not_found": 404,
    "path_refused": 400,
    "patch_refused": 422,
    "nothing_to_commit": 409,
    "nothing_to_undo": 409,
    "workspace_error": 409,
    "busy": 409,
    "sandbox_error": 400,
    "unauthorized": 401,
}


# wire models ------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    """Every error response: the error's `code` (an errors.ERRORS key or a transport code) and a chat-safe message."""

    code: str
    message: str
    hunk: str | None = None
    closest: str | None = None


_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>]")


def _plain(value: str) -> str:
    if _UNSAFE.search(value):
        raise ValueError("must not hold control characters or '<', '>'")
    return value


Plain = Annotated[str, AfterValidator(_plain)]
PersonName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_plain)]
Email = Annotated[str, Field(min_length=1, max_length=254), AfterValidator(_plain)]


class Author(Identity):
    """An identity safe to write into a commit header."""

    name: PersonName
    email: Email


class Link(ChatLink):
    """A chat link safe to write into commit trailers."""

    chat_id: Plain
    message_id: Plain | None = None
    url: Plain | None = None


class SandwichRequest(BaseModel):
    file_ids: list[int] = Field(max_length=200)


class ApplyRequest(BaseModel):
    payload: str
    file_id: int | None = Field(default=None, description="the file a bare diff or whole-file block is for")


class CheckLogicRequest(BaseModel):
    filter: str | None = Field(default=None, description="a cargo test name filter")


class CommitRequest(BaseModel):
    message: str = Field(max_length=10_000)
    author: Author
    chat: Link | None = None


class Health(BaseModel):
    status: str = "ok"
    busy: bool = Field(description="a call is running on the workspace")


def validation_message(errors: list[Any]) -> str:
    """Pydantic errors as one line naming each field (never echoing the rejected values)."""
    parts = []
    for error in errors[:5]:
        where = ".".join(str(part) for part in error["loc"]) or "request"
        parts.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    return "invalid request: " + "; ".join(parts)


def error_body(exc: SandboxError) -> ErrorBody:
    hunk = exc.hunk if isinstance(exc, PatchRefused) else None
    closest = exc.closest if isinstance(exc, PatchRefused) else None
    return ErrorBody(code=exc.code, message=str(exc), hunk=hunk, closest=closest)


def error_response(status: int, body: ErrorBody, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An error as the JSON response every endpoint gives."""
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


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


# one call at a time -------------------------------------------------------------------------
class SerialRunner:
    """Runs blocking executor calls one at a time in a worker thread; waiting calls queue in order."""

    def __init__(self, wait: float = QUEUE_TIMEOUT) -> None:
        self.wait = wait
        self._lock = anyio.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        queued = time.monotonic()
        try:
            with anyio.fail_after(self.wait):
                await self._lock.acquire()
        except TimeoutError:
            raise Busy(f"the workspace stayed busy for {self.wait:g} s; try again later") from None
        started = time.monotonic()
        try:
            # Not abandoned on cancellation: the lock is held until the thread has really finished.
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
        finally:
            self._lock.release()
            name = getattr(fn, "__name__", "call")
            logger.debug(f"{name}: waited {started - queued:.2f}s, ran {time.monotonic() - started:.2f}s")


# ASGI middleware ----------------------------------------------------------------------------
class BodyLimit:
    """Refuses bodies over `limit` bytes with 413, by Content-Length and while reading the stream."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal body
            if body is None:
                return await receive()
            message, body = body, None
            return message

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        logger.warning(f"refused a request body over {self.limit} bytes: {scope['method']} {scope['path']}")
        body = ErrorBody(code="too_large", message=f"the request body exceeds {self.limit} bytes")
        await error_response(413, body, {"Connection": "close"})(scope, receive, send)


class AccessLog:
    """One log line per request: method, path, status, duration (health checks at DEBUG)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            level = "DEBUG" if scope["path"] == "/healthz" else "INFO"
            logger.log(level, f"{scope['method']} {scope['path']} {status} in {time.monotonic() - started:.2f}s")


# the app ------------------------------------------------------------------------------------
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "a path or request the sandbox refuses",
        401: "missing or wrong bearer token",
        404: "unknown file_id or path",
        409: "nothing to commit or undo, a workspace conflict, or busy",
        413: "request body too large",
        422: "invalid arguments or a patch that cannot be applied",
        500: "an internal error",
    }.items()
}


BEARER = HTTPBearer(auto_error=False, description="the sandbox token (DEVSPACE_SANDBOX_TOKEN)")


def _bearer(token: str) -> Callable[..., Awaitable[None]]:
    async def require(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if not token_matches(credentials.credentials if credentials else None, token):
            raise Unauthorized("missing or wrong bearer token for the sandbox service")

    return require


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(SandboxError)
    async def sandbox_error(request: Request, exc: SandboxError) -> JSONResponse:
        status = STATUS.get(exc.code, 400)
        logger.log("WARNING" if status == 401 else "INFO", f"{request.method} {request.url.path}: {exc.code}: {exc}")
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return error_response(status, error_body(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, ErrorBody(code="validation_error", message=validation_message(list(exc.errors()))))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return error_response(exc.status_code, ErrorBody(code="http_error", message=message), exc.headers)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        logger.opt(exception=exc).error(f"{request.method} {request.url.path} crashed: {type(exc).__name__}")
        message = f"internal error ({type(exc).__name__}); see the sandbox log"
        return error_response(500, ErrorBody(code="internal_error", message=message))


def create_app(
    executor: Executor, token: str, *, max_body: int = MAX_BODY, queue_timeout: float = QUEUE_TIMEOUT
) -> FastAPI:
    """The REST API over `executor`; `token` (at least 16 characters) guards every route but /healthz."""
    token = check_token(token)
    redactor.register(token)
    serial = SerialRunner(queue_timeout)
    app = FastAPI(
        title="Colloqium DevSpace sandbox",
        version="1",
        description="The Executor interface over HTTP: files, patches, cargo checks, commits.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=lambda route: route.name,
    )
    _install_errors(app)
    app.add_middleware(BodyLimit, limit=max_body)
    app.add_middleware(AccessLog)
    api = APIRouter(dependencies=[Depends(_bearer(token))], responses=ERROR_RESPONSES)

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:
        return Health(busy=serial.busy)

    @api.get("/openapi.json", include_in_schema=False)
    async def openapi() -> dict[str, Any]:
        return app.openapi()

    @api.get("/files", response_model=list[FileEntry])
    async def files(glob: Annotated[str | None, Query(max_length=500)] = None) -> list[FileEntry]:
        return await serial.run(executor.files, glob)

    @api.get("/get_code", response_model=CodeFile)
    async def get_code(file_id: int | None = None, path: Annotated[str | None, Query(max_length=4096)] = None) -> CodeFile:
        return await serial.run(executor.get_code, file_id=file_id, path=path)

    @api.post("/sandwich", response_model=Sandwich)
    async def sandwich(body: SandwichRequest) -> Sandwich:
        return await serial.run(executor.sandwich, body.file_ids)

    @api.post("/apply", response_model=ApplyResult)
    async def apply(body: ApplyRequest) -> ApplyResult:
        return await serial.run(executor.apply, body.payload, file_id=body.file_id)

    @api.post("/check_compile", response_model=CheckResult)
    async def check_compile() -> CheckResult:
        return await serial.run(executor.check_compile)

    @api.post("/check_logic", response_model=CheckResult)
    async def check_logic(body: CheckLogicRequest) -> CheckResult:
        return await serial.run(executor.check_logic, body.filter)

    @api.post("/check_degradation", response_model=CheckResult)
    async def check_degradation() -> CheckResult:
        return await serial.run(executor.check_degradation)

    @api.post("/commit", response_model=CommitResult)
    async def commit(body: CommitRequest) -> CommitResult:
        return await serial.run(executor.commit, body.message, body.author, body.chat)

    @api.post("/undo", response_model=UndoResult)
    async def undo() -> UndoResult:
        return await serial.run(executor.undo)

    @api.get("/status", response_model=WorkspaceStatus)
    async def status() -> WorkspaceStatus:
        return await serial.run(executor.status)

    app.include_router(api)
    return app

