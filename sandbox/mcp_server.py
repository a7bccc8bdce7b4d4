"""The sandbox's operations as Model Context Protocol tools (stdio, or streamable HTTP behind the token).

One tool per operation of `sandbox.operations`, with the operation's request model as its input
(fields a client may not choose, such as a commit's author, left out) and its result as the output;
checks and patches also return the bounded chat summary as the text a model reads.

MCP clients are LLMs driven by whoever talks to them, so each has a role: the assistant, unless the
configuration names the client (its self-declared `clientInfo.name`) among the developers. A tool
runs only for the roles its operation allows (no `commit` or `undo` for the assistant), and a commit
is authored by the configured developer identity, never by a name the client passes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from typing import Annotated, Any

from loguru import logger
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field, ValidationError
from starlette.types import ASGIApp

from sandbox.asgi import QUEUE_TIMEOUT, BearerGuard, SerialRunner
from sandbox.errors import SandboxError, invalid
from sandbox.executor import Executor
from sandbox.models import ApplyResult, CheckResult, Identity
from sandbox.operations import OPERATIONS, Operation, Role
from sandbox.summary import DEFAULT_BUDGET, summarize_apply, summarize_check

INSTRUCTIONS = (
    "Tools over one Rust project's workspace (a git worktree on its own branch). "
    "Call `files` for file_ids, `get_code` or `sandwich` to read, `apply` to edit (unified diff, "
    "SEARCH/REPLACE or a whole file; applied exactly or refused), the check_* tools to build and test, "
    "`commit` to record the changes and `undo` to drop the last patch (both for the developer only)."
)

SUMMARIES: dict[type[BaseModel], Callable[[Any, int], str]] = {
    ApplyResult: lambda result, budget: summarize_apply(result, budget=budget),
    CheckResult: lambda result, budget: summarize_check(result, budget=budget),
}
"""Results a model reads best as their chat summary (the structured result still comes along)."""


def client_role(ctx: Context, developers: Collection[str]) -> Role:
    """The developer when the client's declared name is configured as one, else the assistant."""
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else None
    return "developer" if name is not None and name in developers else "assistant"


def _parameters(op: Operation[Any]) -> list[inspect.Parameter]:
    """The request's fields a client may fill, as keyword parameters the SDK turns into the tool's input schema."""
    trusted = op.trusted()
    parameters = []
    for name, info in op.request.model_fields.items():
        if name in trusted:
            continue
        annotation = Annotated[(info.annotation, *info.metadata, Field(description=info.description))]  # type: ignore[name-defined]
        default = inspect.Parameter.empty if info.is_required() else info.default
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default))
    return parameters


def create_server(
    executor: Executor,
    *,
    developers: Collection[str] = (),
    author: Identity | None = None,
    summary_budget: int = DEFAULT_BUDGET,
    queue_timeout: float = QUEUE_TIMEOUT,
) -> MCPServer:
    """An MCP server whose tools run on `executor`, one call at a time.

    Clients named in `developers` act as the developer (their commits are authored by `author`);
    every other client is the assistant.
    """
    if developers and author is None:
        raise ValueError("an MCP server with developer clients needs the developer's identity to author their commits")
    serial = SerialRunner(queue_timeout)
    server: MCPServer = MCPServer("devspace-sandbox", instructions=INSTRUCTIONS, log_level="WARNING")
    for op in OPERATIONS.values():
        server.add_tool(_tool(op, executor, serial, developers, author, summary_budget), name=op.name, description=op.summary)
    return server


def _tool(
    op: Operation[Any], executor: Executor, serial: SerialRunner, developers: Collection[str], author: Identity | None, budget: int
) -> Callable[..., Any]:
    summary = SUMMARIES.get(op.result)
    trusted = {name: value for name, value in {"author": author}.items() if name in op.trusted()}

    async def call(ctx: Context, **arguments: Any) -> Any:
        role = client_role(ctx, developers)
        if role not in op.roles:
            logger.warning(f"tool {op.name} refused to an MCP client acting as the {role}")
            raise ToolError(f"`{op.name}` is for the {' and the '.join(op.roles)}; this MCP client acts as the {role}")
        arguments.update(trusted)
        try:
            request = op.request.model_validate(arguments)
        except ValidationError as exc:
            raise ToolError(str(invalid(exc))) from None
        try:
            result = await serial.run(executor, request)
        except SandboxError as exc:
            logger.info(f"tool {op.name}: {exc.code}: {exc}")
            raise ToolError(f"{exc.code}: {exc}") from None
        if summary is None:
            return result
        return CallToolResult(content=[TextContent(type="text", text=summary(result, budget))], structured_content=result.model_dump(mode="json"))

    returns = Annotated[CallToolResult, op.result] if summary is not None else op.result
    parameters = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context), *_parameters(op)]
    call.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    call.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
    call.__name__ = op.name
    return call


def http_app(server: MCPServer, token: str, host: str = "127.0.0.1") -> ASGIApp:
    """The streamable-HTTP MCP endpoint (`/mcp`) behind the bearer token."""
    return BearerGuard(server.streamable_http_app(host=host), token, what="the sandbox MCP server")
