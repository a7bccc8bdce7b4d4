"""The sandbox as a REST service: a FastAPI app over one Executor, behind a bearer token.

One route per operation of `sandbox.operations`, named after it: `GET /<name>` with the request's
fields as query parameters for the safe reads, `POST /<name>` with the request as its JSON body
otherwise (no body for an operation without arguments); the answer is the operation's result model,
an error is `ErrorBody` with the error's status (`sandbox.errors`).

Every call but `/healthz` needs the token. Calls on the workspace run one at a time in a worker
thread; the others wait their turn in the event loop (no thread is held while waiting), and a
call that waits longer than `queue_timeout` is refused as `busy`. Request bodies are capped.
"""

from __future__ import annotations

import inspect
import time
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.asgi import QUEUE_TIMEOUT, BearerGuard, SerialRunner, check_token, error_response, sandbox_error_response
from sandbox.errors import ErrorBody, SandboxError, TooLarge, invalid
from sandbox.executor import Executor
from sandbox.operations import OPERATIONS, Operation
from sandbox.redact import redactor

MAX_BODY = 8 * 1024 * 1024
"""Bytes a request body may have."""
OPEN_PATHS = ("/healthz",)
"""The only routes that need no token."""


class Health(BaseModel):
    status: str = "ok"
    busy: bool = Field(description="a call is running on the workspace")


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
        response = sandbox_error_response(TooLarge(f"the request body exceeds {self.limit} bytes"))
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


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
            level = "DEBUG" if scope["path"] in OPEN_PATHS else "INFO"
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
        422: "invalid arguments",
        500: "an internal error",
    }.items()
}


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(SandboxError)
    async def sandbox_error(request: Request, exc: SandboxError) -> JSONResponse:
        logger.info(f"{request.method} {request.url.path}: {exc.code}: {exc}")
        return sandbox_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return sandbox_error_response(invalid(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return error_response(exc.status_code, ErrorBody(code="http_error", message=message), exc.headers)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        logger.opt(exception=exc).error(f"{request.method} {request.url.path} crashed: {type(exc).__name__}")
        message = f"internal error ({type(exc).__name__}); see the sandbox log"
        return error_response(500, ErrorBody(code="internal_error", message=message))


def _route(api: APIRouter, op: Operation[Any], executor: Executor, serial: SerialRunner) -> None:
    """`op` as a route: the request from the query or the body, the result as the response."""
    model = op.request

    async def endpoint(**arguments: Any) -> Any:
        return await serial.run(executor, arguments.get("arguments") or model())

    parameters = []
    if model.model_fields:
        annotation = Annotated[model, Query()] if op.http == "GET" else model
        parameters.append(inspect.Parameter("arguments", inspect.Parameter.KEYWORD_ONLY, annotation=annotation))
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    api.add_api_route(
        f"/{op.name}", endpoint, methods=[op.http], name=op.name, response_model=op.result, description=op.summary,
    )


def _document_bearer(app: FastAPI) -> None:
    """The schema says what `BearerGuard` enforces: every operation but the open paths needs the token."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain()
            schema.setdefault("components", {})["securitySchemes"] = {
                "HTTPBearer": {"type": "http", "scheme": "bearer", "description": "the sandbox token (DEVSPACE_SANDBOX_TOKEN)"}
            }
            for path, methods in schema["paths"].items():
                for spec in methods.values():
                    if path not in OPEN_PATHS:
                        spec["security"] = [{"HTTPBearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    executor: Executor, token: str, *, max_body: int = MAX_BODY, queue_timeout: float | None = None
) -> FastAPI:
    """The REST API over `executor`; `token` (at least 16 characters) guards every route but /healthz.

    A call waits at most `queue_timeout` seconds (default `QUEUE_TIMEOUT`) for the workspace.
    """
    token = check_token(token)
    redactor.register(token)
    serial = SerialRunner(QUEUE_TIMEOUT if queue_timeout is None else queue_timeout)
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
    _document_bearer(app)
    app.add_middleware(BodyLimit, limit=max_body)
    app.add_middleware(BearerGuard, token=token, open_paths=OPEN_PATHS)
    app.add_middleware(AccessLog)
    api = APIRouter(responses=ERROR_RESPONSES)

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:
        return Health(busy=serial.busy)

    @api.get("/openapi.json", include_in_schema=False)
    async def openapi() -> dict[str, Any]:
        return app.openapi()

    for op in OPERATIONS.values():
        _route(api, op, executor, serial)
    app.include_router(api)
    return app
