"""The sandbox's own commands: `serve` (the REST service), `mcp` (the Model Context Protocol server) and `fetch`
(the dependency fetch stage on its own, which fills the cargo home builds read).

`python -m sandbox serve|mcp|fetch` runs them alone; `devspace sandbox serve|fetch` and `devspace mcp` are the
same commands inside the product's CLI. Both always run the workspace in-process, whatever
`sandbox.url` says; the token comes from the settings (DEVSPACE_SANDBOX_TOKEN or
`sandbox.token_file`), and there is no default. Only what a command needs is imported when it runs.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

if TYPE_CHECKING:
    from sandbox.local import LocalExecutor
    from sandbox.settings import SandboxSettings

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
QueueOpt = Annotated[float | None, typer.Option("--queue-timeout", min=1, help="seconds a call may wait for the workspace [default: 1800]")]
TransportOpt = Annotated[Literal["stdio", "http"], typer.Option("--transport", help="stdio | http (streamable HTTP at /mcp)")]

sandbox_app = typer.Typer(no_args_is_help=True, add_completion=False, help="The sandbox as a service (REST and MCP) and its fetch stage.")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` on stderr; the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settings_for(config: Path | None, project: Path | None) -> SandboxSettings:
    """The sandbox's settings (flags over env over file) with logging set up; exit 2 on a bad value."""
    from sandbox.logs import setup_logging
    from sandbox.settings import ConfigError, SandboxSettings, load

    try:
        settings = load(SandboxSettings, config, **({"project": project} if project is not None else {}))
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    setup_logging(settings.log_level, settings.log_file)
    return settings


def _token(settings: SandboxSettings) -> str:
    """The configured token, checked; exits with status 2 when there is none (there is no default)."""
    from sandbox.asgi import check_token

    secret = settings.sandbox.token
    if secret is None:
        raise fail("no sandbox token: set DEVSPACE_SANDBOX_TOKEN or sandbox.token_file (a secret file)", 2)
    try:
        return check_token(secret.get_secret_value())
    except ValueError as exc:
        raise fail(str(exc), 2) from None


def _project(settings: SandboxSettings) -> Path:
    """The configured project; exits with status 2 when there is none."""
    if settings.project is None:
        raise fail("config: project: not set (pass --project DIR or set DEVSPACE_PROJECT)", 2)
    return settings.project


def _executor(settings: SandboxSettings, sandwiches: Path | None) -> LocalExecutor:
    from sandbox.errors import SandboxError
    from sandbox.local import LocalExecutor

    project = _project(settings)
    config = settings.sandbox_config()
    if sandwiches is not None:
        config = config.model_copy(update={"sandwiches": sandwiches})
    try:
        return LocalExecutor(project, config)
    except SandboxError as exc:
        raise fail(str(exc)) from None


def _warn_if_exposed(host: str) -> None:
    from loguru import logger

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        logger.warning(f"listening on {host}, beyond this machine: keep the port on a private network")


def _serve(app: Any, host: str, port: int, **options: Any) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", **options)


@sandbox_app.command("serve")
def serve(
    project: ProjectOpt = None,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = DEFAULT_PORT,
    sandwiches: SandwichesOpt = None,
    queue_timeout: QueueOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the project's workspace over REST (bearer token on every endpoint but /healthz)."""
    from loguru import logger

    from sandbox.service import create_app

    settings = settings_for(config, project)
    token = _token(settings)
    executor = _executor(settings, sandwiches)
    _warn_if_exposed(host)
    logger.info(f"sandbox service for {executor.ws.project.name} on http://{host}:{port}")
    try:
        _serve(create_app(executor, token, queue_timeout=queue_timeout), host, port, access_log=False)
    finally:
        executor.close()


@sandbox_app.command("mcp")
def mcp_command(
    project: ProjectOpt = None,
    transport: TransportOpt = "stdio",
    host: HostOpt = "127.0.0.1",
    port: PortOpt = DEFAULT_MCP_PORT,
    sandwiches: SandwichesOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the project's workspace as MCP tools (clients are the assistant unless mcp_server.developers names them)."""
    from loguru import logger

    from sandbox.mcp_server import create_server, http_app  # the MCP SDK is slow to import: only here

    settings = settings_for(config, project)
    token = _token(settings) if transport == "http" else None
    executor = _executor(settings, sandwiches)
    server = create_server(
        executor,
        developers=settings.mcp_server.developers,
        author=settings.identities.identity("developer"),
        summary_budget=settings.replies.summary_budget,
    )
    try:
        if token is None:
            server.run("stdio")
        else:
            _warn_if_exposed(host)
            logger.info(f"MCP server for {executor.ws.project.name} on http://{host}:{port}/mcp")
            _serve(http_app(server, token, host), host, port)
    finally:
        executor.close()


@sandbox_app.command("fetch")
def fetch_command(project: ProjectOpt = None, config: ConfigOpt = None) -> None:
    """Download the project's dependencies into sandbox.cargo_home, the one step that uses the network: every source is
    checked first (crates.io, your registries or mirror only), and the checkout is never written (exit 1: refused or failed)."""
    from sandbox.errors import SandboxError
    from sandbox.fetch import fetch_checkout
    from sandbox.summary import summarize_fetch

    settings = settings_for(config, project)
    checkout = _project(settings)
    if not (checkout / "Cargo.toml").is_file():
        raise fail(f"no Cargo.toml in {checkout}", 2)
    limits = settings.sandbox.limits
    try:
        result = fetch_checkout(checkout, cargo_home=settings.sandbox.cargo_home, isolation=limits.isolation, timeout=settings.sandbox.fetch_timeout,
                                output_cap=limits.output_cap, log_path=settings.home / "logs" / "fetch.log")  # fmt: skip
    except SandboxError as exc:
        raise fail(str(exc)) from None
    typer.echo(summarize_fetch(result, settings.replies.summary_budget))
    if not result.ok:
        raise typer.Exit(1)
