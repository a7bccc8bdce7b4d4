"""The `devspace` command line.

Each command imports what it needs when it runs, so `devspace --help`, `devspace apply` and the
sandbox's commands start fast and never load the browser, the LLM client or the orchestrator.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import typer

from sandbox.cli import mcp_command, sandbox_app

if TYPE_CHECKING:
    from rich.console import Console

    from bridge.config import Settings
    from bridge.orchestrator import Orchestrator

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Colloqium DevSpace: a chat UI, an LLM and a Rust project.")


class _LazyConsole:
    """A rich Console made on first use."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


out = cast("Console", _LazyConsole(highlight=False, soft_wrap=True))
err = cast("Console", _LazyConsole(stderr=True, highlight=False))


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"devspace {version('colloqium-devspace')}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")] = False,
) -> None:
    """Colloqium DevSpace: a chat UI, an LLM and a Rust project."""

ProjectOpt = Annotated[Path | None, typer.Option("--project", help="the Rust project's git checkout")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="a devspace.yaml file")]


def settings_for(config: Path | None = None, **overrides: Any) -> Settings:
    """Load settings (CLI flags override env and file) and set up logging; exit 2 on a bad value."""
    from bridge.config import ConfigError, load_settings
    from sandbox.logs import setup_logging

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = load_settings(config, **given)
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    setup_logging(settings.log_level, settings.log_file)
    return settings


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as an error (verbatim: a CSS selector in it is not rich markup) and the exit to raise."""
    from rich.markup import escape

    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


@app.command()
def files(
    glob: Annotated[str | None, typer.Argument(help="a glob such as '*.rs'")] = None,
    project: ProjectOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List the project's files with their stable file_ids."""
    from bridge.wiring import make_executor
    from sandbox.errors import SandboxError
    from sandbox.operations import FilesRequest, build
    from sandbox.settings import ConfigError

    settings = settings_for(config, project=project)
    try:
        entries = make_executor(settings).run(build(FilesRequest, glob=glob))
    except (SandboxError, ConfigError) as exc:
        raise fail(str(exc)) from None
    for entry in entries:
        out.print(f"{entry.file_id:>5}  {entry.path}")


@app.command()
def apply(
    payload_file: Annotated[str, typer.Argument(help="the chat payload; '-' reads stdin")],
    root: Annotated[Path, typer.Option("--root", help="the directory tree to edit")],
) -> None:
    """Apply a chat payload (diffs, SEARCH/REPLACE, whole files) to a tree: all of it or nothing."""
    from rich.markup import escape

    from sandbox.logs import setup_logging
    from sandbox.patch import apply_payload
    from sandbox.summary import summarize_apply, undeclared_note

    setup_logging("WARNING")
    if not root.is_dir():
        raise fail(f"{root} is not a directory", 2)
    try:
        payload = sys.stdin.read() if payload_file == "-" else Path(payload_file).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise fail(f"cannot read {payload_file}: {exc.strerror}", 2) from None
    result = apply_payload(root, payload)
    if not result.ok:
        err.print(summarize_apply(result))
        raise typer.Exit(1)
    for path in result.changed:
        out.print(f"modified {path}")
    for path in result.created:
        out.print(f"created  {path}")
    for path in result.deleted:
        out.print(f"deleted  {path}")
    for path in result.build_sensitive:
        err.print(f"[yellow]note:[/yellow] {path} runs code at build time")
    if result.undeclared:
        err.print(f"[yellow]note:[/yellow] {escape(undeclared_note(result.undeclared))}")


@app.command()
def check(
    kind: Annotated[Literal["compile", "test", "degradation"], typer.Argument(help="compile | test | degradation")],
    project: ProjectOpt = None,
    filter: Annotated[str | None, typer.Option("--filter", help="a cargo test name filter")] = None,
    config: ConfigOpt = None,
) -> None:
    """Run one check in the project's workspace and print its summary."""
    from bridge.wiring import make_executor
    from sandbox.errors import SandboxError
    from sandbox.models import CheckResult
    from sandbox.operations import CheckCompileRequest, CheckDegradationRequest, CheckTestRequest, Request, build
    from sandbox.settings import ConfigError
    from sandbox.summary import summarize_check

    settings = settings_for(config, project=project)
    try:
        executor = make_executor(settings)
        kinds: dict[str, type[Request[CheckResult]]] = {
            "compile": CheckCompileRequest, "test": CheckTestRequest, "degradation": CheckDegradationRequest,
        }
        result = executor.run(build(kinds[kind], **({"filter": filter} if kind == "test" else {})))
    except (SandboxError, ConfigError) as exc:
        raise fail(str(exc)) from None
    out.print(summarize_check(result, budget=settings.replies.summary_budget))
    raise typer.Exit(0 if result.ok else 1)


def _print_replies(orchestrator: Orchestrator, chat_id: str) -> None:
    """Print the outbox's pending replies as posts and mark them posted."""
    journal = orchestrator.journal
    for row in journal.pending_replies(chat_id):
        out.rule(f"MCP ({row.kind})")
        out.print(row.text, markup=False)
        journal.mark_posted(row.id, None)


@app.command("exec")
def exec_(
    message: Annotated[str, typer.Argument(help="the chat message, e.g. '@agent code test #aggr_trades'")],
    project: ProjectOpt = None,
    actor: Annotated[str, typer.Option("--actor", help="developer | assistant")] = "developer",
    chat_id: Annotated[str, typer.Option("--chat-id", help="the conversation this message belongs to")] = "local",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="never commit")] = False,
    sandbox_url: Annotated[str | None, typer.Option("--sandbox-url", help="a remote executor")] = None,
    config: ConfigOpt = None,
) -> None:
    """Run one message through the whole pipeline and print the replies the bot would post."""
    import uuid

    from bridge.models import ChatMessage, Role
    from bridge.wiring import make_orchestrator
    from sandbox.errors import SandboxError
    from sandbox.settings import ConfigError

    if actor not in ("developer", "assistant"):
        raise fail("--actor must be developer or assistant", 2)
    settings = settings_for(config, project=project, sandbox={"url": sandbox_url} if sandbox_url else None)
    try:
        orchestrator = make_orchestrator(settings, dry_run=dry_run)
    except (SandboxError, ConfigError) as exc:
        raise fail(str(exc)) from None
    role: Role = "developer" if actor == "developer" else "assistant"
    msg = ChatMessage(id=f"exec-{uuid.uuid4().hex[:12]}", role=role, text=message, chat_id=chat_id)
    orchestrator.run_pending(chat_id)
    orchestrator.handle(msg)
    _print_replies(orchestrator, chat_id)


@app.command()
def replay(
    transcript: Annotated[Path, typer.Argument(help="JSON lines of {role, text[, id]}")],
    project: ProjectOpt = None,
    chat_id: Annotated[str | None, typer.Option("--chat-id", help="default: a fresh id per run")] = None,
    execute: Annotated[bool, typer.Option("--execute", help="allow commits (dry by default)")] = False,
    config: ConfigOpt = None,
) -> None:
    """Feed a chat transcript in order and print the bot's replies; dry (no commits) by default."""
    import json
    import uuid

    from bridge.models import ChatMessage
    from bridge.wiring import make_orchestrator
    from sandbox.errors import SandboxError
    from sandbox.settings import ConfigError

    settings = settings_for(config, project=project)
    try:
        lines = transcript.read_text(encoding="utf-8").splitlines()
        orchestrator = make_orchestrator(settings, dry_run=not execute)
    except OSError as exc:
        raise fail(f"cannot read {transcript}: {exc.strerror}", 2) from None
    except (SandboxError, ConfigError) as exc:
        raise fail(str(exc)) from None
    chat = chat_id or f"replay-{uuid.uuid4().hex[:8]}"
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            msg = ChatMessage(id=str(item.get("id", f"line-{number}")), role=item["role"], text=item["text"], chat_id=chat)
        except (ValueError, KeyError, TypeError) as exc:
            raise fail(f"{transcript}:{number}: not a {{role, text}} JSON object ({exc})", 2) from None
        out.rule(f"{msg.role} ({msg.id})")
        out.print(msg.text, markup=False)
        orchestrator.handle(msg)
        _print_replies(orchestrator, chat)


UrlOpt = Annotated[str | None, typer.Option("--url", help="the conversation's URL (default: the profile's start page)")]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="a profile of the selectors file: grok, mock, chatgpt, …")]
SelectorsOpt = Annotated[Path | None, typer.Option("--selectors", help="your own selectors file")]


def _chat_settings(config: Path | None, profile: str | None, selectors: Path | None, driver: str | None = None, **extra: Any) -> Settings:
    chat = {k: v for k, v in {"profile": profile, "selectors_file": selectors, "driver": driver}.items() if v is not None}
    return settings_for(config, chat=chat or None, **extra)


def _profile(settings: Settings) -> Any:
    """The chat profile the settings name; exit 2 with the reason when it cannot be loaded."""
    from bridge.chat.profile import ProfileError
    from bridge.session import profile_for

    try:
        return profile_for(settings)
    except ProfileError as exc:
        raise fail(str(exc), 2) from None


@app.command()
def run(
    profile: ProfileOpt = None,
    url: UrlOpt = None,
    selectors: SelectorsOpt = None,
    driver: Annotated[str | None, typer.Option("--driver", help="the chat driver: playwright (default), memory, or a module path")] = None,
    cdp: Annotated[str | None, typer.Option("--cdp", help="attach to your running Chrome, e.g. http://127.0.0.1:9222")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print replies; post and commit nothing")] = False,
    catch_up: Annotated[bool, typer.Option("--catch-up", help="on the first attach, run the commands already there")] = False,
    project: ProjectOpt = None,
    headed: Annotated[bool, typer.Option("--headed", help="show the browser")] = False,
    sandbox_url: Annotated[str | None, typer.Option("--sandbox-url", help="a remote executor")] = None,
    config: ConfigOpt = None,
) -> None:
    """Stay attached to a chat and act on its `@agent` commands until interrupted (Ctrl-C)."""
    import asyncio
    import contextlib
    import signal

    from loguru import logger

    from bridge.chat.drivers import DriverError
    from bridge.chat.errors import ChatError
    from bridge.heap import freeze_startup
    from bridge.session import Attachment, make_bridge, run_until_stopped
    from bridge.wiring import make_orchestrator
    from sandbox.errors import SandboxError
    from sandbox.settings import ConfigError

    settings = _chat_settings(
        config, profile, selectors, driver=driver, project=project, sandbox={"url": sandbox_url} if sandbox_url else None
    )
    if catch_up:
        settings.chat.catch_up = True
    chat_profile = _profile(settings)
    try:
        orchestrator = make_orchestrator(settings, dry_run=dry_run)
    except (SandboxError, ConfigError) as exc:
        raise fail(str(exc), 2) from None
    target = url or settings.chat.url or chat_profile.url
    try:
        bridge = make_bridge(settings, orchestrator, Attachment(url=target, cdp_url=cdp or settings.chat.cdp_url, headed=headed))
    except DriverError as exc:
        raise fail(str(exc), 2) from None
    err.print(f"attached to {target} as profile {chat_profile.name} ({'dry run' if orchestrator.dry_run else 'live'}); Ctrl-C to stop")
    freeze_startup()

    async def main_loop() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Ctrl-C also reaches Playwright's driver process; its closing noise is not an error
        def unhandled(_loop: asyncio.AbstractEventLoop, ctx: dict[str, Any]) -> None:
            (logger.debug if stop.is_set() else logger.warning)(f"unhandled in the loop: {ctx.get('exception') or ctx.get('message')}")

        loop.set_exception_handler(unhandled)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await run_until_stopped(bridge, stop)

    try:
        asyncio.run(main_loop())
    except ChatError as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from None
    err.print("stopped")


@app.command()
def doctor(
    profile: ProfileOpt = None,
    url: UrlOpt = None,
    selectors: SelectorsOpt = None,
    cdp: Annotated[str | None, typer.Option("--cdp", help="check the tab of your running Chrome")] = None,
    config: ConfigOpt = None,
    project: Annotated[
        Path | None, typer.Option("--project", help="check this project's environment instead: base build, dependencies offline, toolchain, disk")
    ] = None,
) -> None:
    """Check every part of a profile on the live page: a report to paste into an issue; exit 1 when one is broken.
    With --project, check the project's environment instead (what `@agent check environment` does)."""
    import asyncio

    if project is not None:
        _project_doctor(project, config)

    from bridge.chat.base import Attachment
    from bridge.chat.doctor import run_doctor
    from bridge.chat.playwright_driver import options_for

    settings = _chat_settings(config, profile, selectors)
    chat_profile = _profile(settings)
    target = url or settings.chat.url or chat_profile.url
    report = asyncio.run(run_doctor(chat_profile, options_for(settings, Attachment(url=target, cdp_url=cdp))))
    out.print(report.markdown(), markup=False, highlight=False)
    raise typer.Exit(0 if report.healthy() else 1)


def _project_doctor(project: Path, config: Path | None) -> None:
    from bridge.wiring import make_executor
    from sandbox.errors import SandboxError
    from sandbox.operations import PreflightRequest
    from sandbox.settings import ConfigError
    from sandbox.summary import summarize_preflight

    settings = settings_for(config, project=project)
    try:
        found = make_executor(settings).run(PreflightRequest())
    except (SandboxError, ConfigError) as exc:
        raise fail(str(exc)) from None
    out.print(summarize_preflight(found, budget=settings.replies.summary_budget), markup=False, highlight=False)
    raise typer.Exit(0 if found.ok else 1)


@app.command()
def login(
    profile: ProfileOpt = None,
    url: UrlOpt = None,
    selectors: SelectorsOpt = None,
    import_from: Annotated[
        str | None,
        typer.Option("--import", help="save a login made elsewhere instead: its file, or - for standard input (no browser)"),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Open a visible browser, wait for you to log in, and save the session (file mode 0600).

    With `--import`, take a session saved by `devspace login` on another machine instead: the hand-over into the
    bridge's container (`docker compose exec -T bridge devspace login --import - < grok.json`)."""
    import asyncio

    settings = _chat_settings(config, profile, selectors)
    chat_profile = _profile(settings)
    state = settings.chat.storage_state
    assert state is not None
    if import_from is not None:
        from bridge.chat.login import import_state

        try:
            text = sys.stdin.read() if import_from == "-" else Path(import_from).read_text(encoding="utf-8")
            saved = import_state(text, state)
        except (OSError, ValueError) as exc:
            raise fail(f"cannot import the login: {exc}", 2) from None
        out.print(f"session saved to {saved}; a running bridge logs in with it when it next reopens the chat")
        return
    from bridge.chat.login import login as do_login

    saved = asyncio.run(do_login(chat_profile, state, url=url or settings.chat.url, chromium=settings.chat.chromium))
    out.print(f"session saved to {saved}")


@app.command()
def demo(
    port: Annotated[int, typer.Option("--port", help="the mock chat's port (0: any free one)")] = 8765,
    stay: Annotated[bool, typer.Option("--stay/--exit", help="stay up after the scripted workflow")] = True,
    fixture: Annotated[str, typer.Option("--fixture", help="classic | grok-2026 (today's grok.com, with the grok profile)")] = "classic",
    config: ConfigOpt = None,
) -> None:
    """The seed's workflow on the mock chat and a copy of the example crate, then stay up for you."""
    from bridge.demo import FIXTURES, run_demo
    from sandbox.logs import setup_logging

    if fixture not in FIXTURES:
        raise fail(f"--fixture must be one of {', '.join(FIXTURES)}", 2)
    settings = settings_for(config)
    setup_logging("WARNING", settings.log_file)  # the transcript is the demo's output
    ok = run_demo(settings, port=port, stay=stay, console=out, fixture=fixture)  # type: ignore[arg-type]
    raise typer.Exit(0 if ok else 1)


app.add_typer(sandbox_app, name="sandbox")  # the sandbox's own commands (its container has no browser)
app.command("mcp")(mcp_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
