"""`devspace sandbox serve` (the REST service) and `devspace mcp` (the MCP server).

Registered in `bridge/cli.py` with `app.add_typer(sandbox_app, name="sandbox")` and
`app.command("mcp")(mcp_command)`. Both always run the workspace in-process, whatever
`sandbox.url` says; the token comes from the settings (DEVSPACE_SANDBOX_TOKEN or
`sandbox.token_file`), and there is no default.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
import uvicorn
from loguru import logger

from sandbox.errors import SandboxError
from sandbox.local import LocalExecutor
from sandbox.service import QUEUE_TIMEOUT, check_token, create_app

if TYPE_CHECKING:
    from bridge.config import Settings

DEFAULT_PORT = 8800
DEFAULT_MCP_PORT = 8801

ProjectOpt = Annotated[Path | None, typer.Option("--project", help="the Rust project's git checkout")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="a devspace.yaml file")]
HostOpt = Annotated[str, typer.Option("--host", help="the address to listen on; loopback unless told otherwise")]
PortOpt = Annotated[int, typer.Option("--port", min=1, max=65535)]
SandwichesOpt = Annotated[
    Path | None,
    typer.Option("--sandwiches", envvar="DEVSPACE_SANDWICHES", help="where sandwiches are saved; default: <home>/sandwiches"),
]
QueueOpt = Annotated[float, typer.Option("--queue-timeout", min=1, help="seconds a call may wait for the workspace")]
TransportOpt = Annotated[Literal["stdio", "http"], typer.Option("--transport", help="stdio | http (streamable HTTP at /mcp)")]

sandbox_app = typer.Typer(no_args_is_help=True, add_completion=False)


@sandbox_app.callback()
def sandbox_group() -> None:
    """The sandbox as a service for a remote bridge."""


def _settings(config: Path | None, project: Path | None) -> Settings:
    from bridge.cli import settings_for  # bridge.cli registers this module's commands

    return settings_for(config, project=project)


def _fail(message: str, code: int = 1) -> typer.Exit:
    from bridge.cli import fail

    return fail(message, code)


def _token(settings: Settings) -> str:
    """The configured token, checked; exits with status 2 when there is none (there is no default)."""
    secret = settings.sandbox.token
    if secret is None:
        raise _fail("no sandbox token: set DEVSPACE_SANDBOX_TOKEN or sandbox.token_file (a secret file)", 2)
    try:
        return check_token(secret.get_secret_value())
    except ValueError as exc:
        raise _fail(str(exc), 2) from None


def _executor(settings: Settings, sandwiches: Path | None) -> LocalExecutor:
    if settings.project is None:
        raise _fail("config: project: not set (pass --project DIR or set DEVSPACE_PROJECT)", 2)
    config = settings.sandbox_config()
    if sandwiches is not None:
        config = config.model_copy(update={"sandwiches": sandwiches})
    try:
        return LocalExecutor(settings.project, config)
    except SandboxError as exc:
        raise _fail(str(exc)) from None


def _warn_if_exposed(host: str) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        logger.warning(f"listening on {host}, beyond this machine: keep the port on a private network")


@sandbox_app.command("serve")
def serve(
    project: ProjectOpt = None,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = DEFAULT_PORT,
    sandwiches: SandwichesOpt = None,
    queue_timeout: QueueOpt = QUEUE_TIMEOUT,
    config: ConfigOpt = None,
) -> None:
    """Serve the project's workspace over REST (bearer token on every endpoint but /healthz)."""
    settings = _settings(config, project)
    token = _token(settings)
    executor = _executor(settings, sandwiches)
    _warn_if_exposed(host)
    logger.info(f"sandbox service for {executor.ws.project.name} on http://{host}:{port}")
    try:
        app = create_app(executor, token, queue_timeout=queue_timeout)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        executor.close()


def mcp_command(
    project: ProjectOpt = None,
    transport: TransportOpt = "stdio",
    host: HostOpt = "127.0.0.1",
    port: PortOpt = DEFAULT_MCP_PORT,
    sandwiches: SandwichesOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the project's workspace as MCP tools (the http transport needs the sandbox token)."""
    from sandbox.mcp_server import create_server, http_app  # the MCP SDK is slow to import: only here

    settings = _settings(config, project)
    token = _token(settings) if transport == "http" else None
    executor = _executor(settings, sandwiches)
    server = create_server(executor, summary_budget=settings.replies.summary_budget)
    try:
        if token is None:
            server.run("stdio")
        else:
            _warn_if_exposed(host)
            logger.info(f"MCP server for {executor.ws.project.name} on http://{host}:{port}/mcp")
            uvicorn.run(http_app(server, token, host), host=host, port=port, log_level="warning")
    finally:
        executor.close()
