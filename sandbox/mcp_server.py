"""The sandbox's tools over the Model Context Protocol (stdio or streamable HTTP behind a token).

One tool, one function: each validates its arguments (pydantic, from the signature), runs one
Executor call in the workspace's queue and returns the result model; checks and patches also
return the bounded chat summary as the text a model reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from loguru import logger
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.config import MCP_IDENTITY
from sandbox.errors import SandboxError
from sandbox.executor import Executor
from sandbox.models import (
    ApplyResult,
    CheckResult,
    CodeFile,
    CommitResult,
    FileEntry,
    Identity,
    Sandwich,
    UndoResult,
    WorkspaceStatus,
)
from sandbox.service import (
    MAX_BODY,
    QUEUE_TIMEOUT,
    Email,
    ErrorBody,
    PersonName,
    SerialRunner,
    Unauthorized,
    check_token,
    error_response,
    token_matches,
)
from sandbox.summary import DEFAULT_BUDGET, summarize_apply, summarize_check

T = TypeVar("T")

INSTRUCTIONS = (
    "Tools over one Rust project's workspace (a git worktree on its own branch). "
    "Call `files` for file_ids, `get_code` or `sandwich` to read, `apply` to edit (unified diff, "
    "SEARCH/REPLACE or a whole file; applied exactly or refused), the check_* tools to build and test, "
    "`commit` to record the changes, `undo` to drop the last patch."
)

FileId = Annotated[int, Field(ge=1, description="a file_id from `files`")]
Glob = Annotated[str, Field(min_length=1, max_length=500, description="a glob such as '*.rs', or part of a path")]
ProjectPath = Annotated[str, Field(min_length=1, max_length=4096, description="a path relative to the project")]
Payload = Annotated[str, Field(min_length=1, max_length=MAX_BODY, description="the patch: diff, SEARCH/REPLACE or whole file")]
TestFilter = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[^-\s][^\x00-\x1f]*$", description="a cargo test name filter"),
]
Message = Annotated[str, Field(min_length=1, max_length=2000, description="the commit message")]


def _summary(model: BaseModel, text: str) -> CallToolResult:
    """The result model as structured content, with `text` (a bounded summary) for the model to read."""
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=model.model_dump(mode="json"))


def create_server(
    executor: Executor,
    *,
    author: Identity = MCP_IDENTITY,
    summary_budget: int = DEFAULT_BUDGET,
    queue_timeout: float = QUEUE_TIMEOUT,
) -> MCPServer:
    """An MCP server whose tools run on `executor`, one call at a time; `author` signs its commits by default."""
    serial = SerialRunner(queue_timeout)
    server: MCPServer = MCPServer("devspace-sandbox", instructions=INSTRUCTIONS, log_level="WARNING")

    async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await serial.run(fn, *args, **kwargs)
        except SandboxError as exc:
            logger.info(f"tool {getattr(fn, '__name__', 'call')}: {exc.code}: {exc}")
            raise ToolError(f"{exc.code}: {exc}") from None

    @server.tool()
    async def files(glob: Glob | None = None) -> list[FileEntry]:
        """The project's files with their stable numeric file_ids, optionally only those matching `glob`."""
        return await run(executor.files, glob)

    @server.tool()
    async def get_code(file_id: FileId | None = None, path: ProjectPath | None = None) -> CodeFile:
        """One file's text, by file_id or by path (give exactly one)."""
        if (file_id is None) == (path is None):
            raise ToolError("give exactly one of file_id and path")
        return await run(executor.get_code, file_id=file_id, path=path)

    @server.tool()
    async def sandwich(file_ids: Annotated[list[FileId], Field(min_length=1, max_length=200)]) -> Sandwich:
        """Several files bundled with headers, for a model's context (also saved in the sandwiches folder)."""
        return await run(executor.sandwich, file_ids)

    @server.tool()
    async def apply(payload: Payload, file_id: FileId | None = None) -> Annotated[CallToolResult, ApplyResult]:
        """Apply a patch to the workspace: every file or none; a patch that cannot be placed exactly is refused."""
        result = await run(executor.apply, payload, file_id=file_id)
        return _summary(result, summarize_apply(result, budget=summary_budget))

    @server.tool()
    async def check_compile() -> Annotated[CallToolResult, CheckResult]:
        """`cargo build --all-targets`: errors and warnings by code and location."""
        result = await run(executor.check_compile)
        return _summary(result, summarize_check(result, budget=summary_budget))

    @server.tool()
    async def check_logic(filter: TestFilter | None = None) -> Annotated[CallToolResult, CheckResult]:
        """`cargo test [filter]`: passed, failed and ignored tests, with the failures' messages."""
        result = await run(executor.check_logic, filter)
        return _summary(result, summarize_check(result, budget=summary_budget))

    @server.tool()
    async def check_degradation() -> Annotated[CallToolResult, CheckResult]:
        """Build and test the workspace against its base commit: regressions and new warnings."""
        result = await run(executor.check_degradation)
        return _summary(result, summarize_check(result, budget=summary_budget))

    @server.tool()
    async def commit(message: Message, author_name: PersonName | None = None, author_email: Email | None = None) -> CommitResult:
        """Commit every pending change on the workspace branch; the author defaults to this server's identity."""
        if (author_name is None) != (author_email is None):
            raise ToolError("give both author_name and author_email, or neither")
        who = Identity(name=author_name, email=author_email) if author_name and author_email else author
        return await run(executor.commit, message, who)

    @server.tool()
    async def undo() -> UndoResult:
        """Drop the last applied, uncommitted patch, or else revert this server's last commit."""
        return await run(executor.undo)

    @server.tool()
    async def status() -> WorkspaceStatus:
        """The workspace: branch, head, pending files, applied patches, commits made."""
        return await run(executor.status)

    return server


class BearerGuard:
    """Lets HTTP requests through only with `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = check_token(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer" or not token_matches(given.strip(), self.token):
                body = ErrorBody(code=Unauthorized.code, message="missing or wrong bearer token for the sandbox MCP server")
                await error_response(401, body, {"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, token: str, host: str = "127.0.0.1") -> ASGIApp:
    """The streamable-HTTP MCP endpoint (`/mcp`) behind the bearer token."""
    return BearerGuard(server.streamable_http_app(host=host), token)
