"""Cargo runs under limits and isolation, parsed into structured check results."""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from loguru import logger
from pydantic import BaseModel, Field

from sandbox import proc
from sandbox.deps import SOURCES_FILE, Dependencies, SourcesView, default_cargo_home
from sandbox.environment import classify
from sandbox.errors import SandboxError
from sandbox.isolation import Mount, bwrap_argv, bwrap_path, isolation_available
from sandbox.models import CheckResult, Diagnostic, EnvironmentIssue, TestBinary, TestCase
from sandbox.operations import TEST_FILTER
from sandbox.redact import redact

ENV_KEEP = ("PATH", "HOME", "USER", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "LANG", "LC_ALL", "TERM")
"""The only parent variables a cargo run sees; API keys, tokens and cookies never reach it."""
MESSAGE_CAP = 2000
"""Characters kept of one test's failure text."""
WORKSPACE = Path("/workspace")
"""Where an isolated build sees the workspace tree (the host's layout stays hidden)."""
BASE = Path("/base")
"""Where an isolated build of the base commit sees its tree: a path of its own, so the base's and the workspace's
artifacts of the project's crates stay apart in the one target dir they share (their dependencies' are reused)."""
TARGET = Path("/target")
"""Where an isolated build sees its target directory."""
SCRATCH_HOME = Path("/tmp")
"""HOME inside the sandbox: the per-run scratch area."""
CARGO_HOME_READ_ONLY = ("bin", "registry", "git", "config.toml", "config")
"""What of cargo's home an isolated build sees, read-only: its programs (rustup's proxies), the dependency sources
and the user's cargo settings (never `credentials.toml`). The rest is a fresh scratch folder per run, for its locks."""


class RunLimits(BaseModel):
    """Bounds for one cargo check."""

    timeout: float = Field(default=600.0, gt=0, description="seconds for the whole check")
    output_cap: int = Field(
        default=4_000_000, ge=4096, description="bytes kept from stdout+stderr; the rest is dropped and counted"
    )
    memory_mb: int | None = Field(default=4096, ge=64, description="address-space limit per process (RLIMIT_AS)")
    processes: int | None = Field(
        default=1024, ge=16, description="processes and threads the whole check may hold at once (a pids cgroup, where one can be made)"
    )
    isolation: Literal["bwrap", "auto", "none"] = Field(
        default="bwrap",
        description="bwrap: every run in the sandbox, refused where bubblewrap cannot build it; "
        "auto: unisolated where it cannot (one warning); none: never isolated (trusted code only)",
    )
    readable: list[Path] = Field(
        default_factory=list,
        description="extra host folders an isolated build may read (path dependencies or vendored sources outside the project)",
    )


class CargoRun(BaseModel):
    """One cargo invocation: its exit, its (capped) output and how it was run."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    dropped: int = 0
    duration: float = 0.0
    isolated: bool = False
    environment: EnvironmentIssue | None = Field(default=None, description="the environment's part in a failure (see sandbox.environment)")


# running -------------------------------------------------------------------------------------
def rustup_home() -> Path | None:
    home = Path(os.environ.get("RUSTUP_HOME") or Path.home() / ".rustup").absolute()
    return home if home.is_dir() else None


def cargo_env(target_dir: Path, *, isolated: bool = False, cargo_home: Path | None = None) -> dict[str, str]:
    """A clean environment for cargo: the toolchain's variables, offline, no colour, short panics.

    Isolated, the target dir is the sandbox's and HOME the run's scratch area; cargo's and rustup's
    homes are named explicitly, since HOME no longer leads to them.
    """
    extra = {
        "CARGO_TARGET_DIR": str(TARGET if isolated else target_dir),
        "CARGO_TERM_COLOR": "never",
        "CARGO_TERM_PROGRESS_WHEN": "never",
        "CARGO_NET_OFFLINE": "true",
        "RUST_BACKTRACE": "0",
        "RUSTUP_AUTO_INSTALL": "0",  # a toolchain the project pins is installed by the developer, never from a build
    }
    if isolated:
        extra |= {"HOME": str(SCRATCH_HOME), "CARGO_HOME": str(cargo_home or default_cargo_home())}
        rustup = rustup_home()
        if rustup is not None:
            extra["RUSTUP_HOME"] = str(rustup)
    env = proc.clean_env(ENV_KEEP, extra)
    env.setdefault("LANG", "C.UTF-8")
    env.setdefault("TERM", "dumb")
    return env


def _isolate(mode: str) -> bool:
    if mode == "none":
        return False
    if isolation_available():
        return True
    if mode == "bwrap":
        raise SandboxError(
            "refused to run cargo: bubblewrap cannot build its sandbox here (install it and allow unprivileged user "
            "namespaces), and builds run hostile code; set sandbox.limits.isolation=none only for trusted code"
        )
    return False


@functools.cache
def toolchain() -> tuple[Path, ...]:
    """Host folders of the Rust toolchain outside /usr: cargo's and rustc's folders (rustup's proxies), rustc's sysroot,
    and rustup's home."""
    found: set[Path] = set()
    for tool in ("cargo", "rustc"):
        path = shutil.which(tool)
        if path is not None:
            found |= {Path(path).parent.absolute(), Path(os.path.realpath(path)).parent}
    rustc = shutil.which("rustc")
    if rustc is not None:
        try:
            sysroot = subprocess.run(
                [rustc, "--print", "sysroot"], cwd="/", env=proc.clean_env(ENV_KEEP), capture_output=True, text=True, timeout=60, check=False
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            sysroot = ""
        if sysroot:
            found.add(Path(sysroot))
    rustup = rustup_home()
    if rustup is not None:
        found.add(rustup)
    system = Path("/usr")
    kept = sorted(p for p in found if p.is_dir() and not p.is_relative_to(system))
    return tuple(p for p in kept if not any(p != q and p.is_relative_to(q) for q in kept))


def sandbox_mounts(
    tree: Path,
    target_dir: Path,
    readable: Sequence[Path] = (),
    *,
    cargo_home: Path | None = None,
    sources: Sequence[Mount] = (),
    tree_at: Path = WORKSPACE,
) -> list[Mount]:
    """What an isolated build sees besides the system: the toolchain and the dependency sources read-only (`sources`:
    see `Dependencies.view`), cargo's home as a scratch folder, the tree at `tree_at` (its `.git` entry read-only) and
    the target dir at TARGET."""
    home = cargo_home or default_cargo_home()
    mounts = [Mount.tmpfs(home)]
    mounts += [Mount.ro(home / name) for name in CARGO_HOME_READ_ONLY if (home / name).exists()]
    mounts += [Mount.ro(path) for path in [*toolchain(), *readable] if path != home / "bin"]
    mounts += list(sources)
    mounts += [Mount.rw(tree, tree_at), Mount.rw(target_dir, TARGET)]
    if os.path.lexists(tree / ".git"):
        mounts.append(Mount.ro(tree / ".git", tree_at / ".git"))
    return mounts


def _readable(stdout: str) -> str:
    """JSON message output as a person reads it: rendered diagnostics, artifact records left out."""
    out: list[str] = []
    for line in stdout.splitlines():
        try:
            record = json.loads(line) if line.startswith("{") else None
        except json.JSONDecodeError:
            record = None
        if record is None:
            out.append(line)
        elif record.get("reason") == "compiler-message":
            out.append((record.get("message") or {}).get("rendered") or "")
        elif record.get("reason") == "build-finished":
            out.append(f"build finished: success={record.get('success')}")
    return "\n".join(out)


def _append_log(log_path: Path, run: CargoRun) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    status = (
        f"exit {run.returncode}"
        + (", TIMED OUT" if run.timed_out else "")
        + (f", {run.dropped} bytes dropped" if run.truncated else "")
    )
    stdout = _readable(run.stdout) if "--message-format=json" in run.command else run.stdout
    parts = [f"$ {shlex.join(run.command)}  (isolated={run.isolated})\n", stdout]
    if run.stderr:
        parts += ["\n--- stderr ---\n", run.stderr]
    parts.append(f"\n--- {status} in {run.duration:.1f}s ---\n\n")
    with log_path.open("a", encoding="utf-8") as fh:
        fh.write(redact("".join(parts)))


def run_cargo(
    args: list[str],
    *,
    cwd: Path,
    target_dir: Path,
    limits: RunLimits,
    log_path: Path,
    merge_stderr: bool = False,
    deps: Dependencies | None = None,
    tree_at: Path = WORKSPACE,
) -> CargoRun:
    """Run `cargo --offline <args>` in the tree `cwd` under `limits`; the output is also appended to `log_path`.

    Isolated, the run sees `cwd` at `tree_at` (WORKSPACE, or BASE for the base commit's tree) and `target_dir` at TARGET (see `sandbox_mounts`); `deps` says
    which cargo home and dependency sources it reads (default: the cargo home of this process, no sources).
    """
    cwd, target_dir = cwd.resolve(), target_dir.resolve()
    target_dir.mkdir(parents=True, exist_ok=True)
    isolated = _isolate(limits.isolation)
    home = deps.cargo_home if deps is not None else default_cargo_home()
    view = deps.view(tree_at if isolated else None) if deps is not None else SourcesView()
    with tempfile.TemporaryDirectory(prefix="devspace-cargo-") as scratch:
        config: list[str] = []
        extra = list(view.mounts)
        if view.config_text:
            file = Path(scratch) / "sources.toml"
            file.write_text(view.config_text, encoding="utf-8")
            file.chmod(0o644)
            config = ["--config", str(SOURCES_FILE if isolated else file)]
            extra.append(Mount.ro(file, SOURCES_FILE))
        command = ["cargo", "--offline", *config, *args]
        argv = command
        if isolated:
            mounts = sandbox_mounts(cwd, target_dir, limits.readable, cargo_home=home, sources=extra, tree_at=tree_at)
            argv = bwrap_argv(command, mounts, cwd=tree_at, bwrap=bwrap_path() or "bwrap")
        result = proc.run(
            argv,
            cwd=cwd,
            env=cargo_env(target_dir, isolated=isolated, cargo_home=home),
            timeout=limits.timeout,
            output_cap=limits.output_cap,
            memory_mb=limits.memory_mb,
            max_pids=limits.processes,
            merge_stderr=merge_stderr,
        )
    failed = result.returncode != 0 or result.timed_out
    seen = {str(m.dest): str(m.source) for m in extra if m.kind == "ro" and m.source != str(SOURCES_FILE)}
    cache = str(deps.sources.registry_cache()) if deps is not None else str(home / "registry")
    environment = (
        classify(redact(result.stderr if not merge_stderr else result.stdout), timed_out=result.timed_out, paths=seen, cache=cache)
        if failed
        else None
    )
    run = CargoRun(
        command=command,
        returncode=result.returncode,
        stdout=redact(result.stdout),
        stderr=redact(result.stderr),
        timed_out=result.timed_out,
        truncated=result.truncated,
        dropped=result.dropped,
        duration=result.duration,
        isolated=isolated,
        environment=environment,
    )
    _append_log(log_path, run)
    level = "WARNING" if run.timed_out else "INFO"
    logger.log(
        level, f"cargo {' '.join(args)}: exit {run.returncode} in {run.duration:.1f}s" + (" (timed out)" if run.timed_out else "")
    )
    return run


# compiler diagnostics --------------------------------------------------------------------------
_LEVELS = ("error", "warning", "error: internal compiler error")
_TALLY = re.compile(r"^(aborting due to|\d+ warnings? emitted|.* generated \d+ warnings?)")


def _primary_span(spans: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The primary span, followed out of macro expansions into the project's own files."""
    span = next((s for s in spans if s.get("is_primary")), spans[0] if spans else None)
    while span is not None and span.get("expansion") and (span["file_name"].startswith(("/", "<"))):
        span = span["expansion"]["span"]
    return span


def _diagnostic(msg: dict[str, Any]) -> Diagnostic | None:
    level, text, spans = msg.get("level"), msg.get("message", ""), msg.get("spans") or []
    if level not in _LEVELS or (not spans and _TALLY.match(text)):
        return None
    span = _primary_span(spans)
    return Diagnostic(
        level=level,
        code=(msg.get("code") or {}).get("code"),
        message=text,
        file=span["file_name"] if span else None,
        line=span["line_start"] if span else None,
        column=span["column_start"] if span else None,
        rendered=(msg.get("rendered") or "").rstrip() or None,
    )


def parse_diagnostics(json_lines: str) -> list[Diagnostic]:
    """Compiler messages from `--message-format=json` output, identical ones once, in order."""
    seen: set[tuple[Any, ...]] = set()
    out: list[Diagnostic] = []
    for line in json_lines.splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the output cap
        if record.get("reason") != "compiler-message":
            continue
        diag = _diagnostic(record.get("message") or {})
        if diag is None:
            continue
        key = (diag.level, diag.code, diag.message, diag.file, diag.line, diag.column)
        if key not in seen:
            seen.add(key)
            out.append(diag)
    return out


_CARGO_ERROR = re.compile(r"^error(?:\[\w+\])?: ")
_CARGO_NOISE = re.compile(r"^error: (test failed, to rerun|doctest failed, to rerun|\d+ targets? failed)")


def cargo_errors(text: str) -> list[Diagnostic]:
    """Cargo's own `error:` blocks (manifest problems, build scripts, crashed test binaries)."""
    out: list[Diagnostic] = []
    block: list[str] | None = None
    for line in [*text.splitlines(), "<end>"]:
        if block is not None and (not line or line[0].isspace() or line == "Caused by:"):
            block.append(line)
            continue
        if block is not None:
            rendered = "\n".join(block).rstrip()
            out.append(Diagnostic(level="error", message=block[0].split(": ", 1)[1], rendered=rendered))
            block = None
        if _CARGO_ERROR.match(line) and not _CARGO_NOISE.match(line):
            block = [line]
    return out


def _compile_diagnostics(run: CargoRun) -> list[Diagnostic]:
    """JSON compiler messages, plus cargo's errors when the compiler's do not explain a failure."""
    diags = parse_diagnostics(run.stdout)
    if run.returncode == 0 or run.timed_out:
        return diags
    compiler_failed = any(d.level.startswith("error") for d in diags)
    extra = [d for d in cargo_errors(run.stderr) if not (compiler_failed and d.message.startswith("could not compile"))]
    return diags + extra


# libtest output ---------------------------------------------------------------------------------
_RUNNING = re.compile(r"^\s*Running (.+?)(?: \([^()]*\))?\s*$")
_DOCTESTS = re.compile(r"^\s*Doc-tests (\S+)\s*$")
_TEST_LINE = re.compile(r"^test (.+?) \.\.\. (ok|FAILED|ignored)(?:, .*)?$")
_RESULT = re.compile(r"^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored;")
_SECTION = re.compile(r"^---- (.+?) std(?:out|err) ----$")
_EXIT = re.compile(r"process didn't exit successfully: `[^`]*` \((.+)\)\s*$")
_PANIC_NEW = re.compile(r"panicked at (?P<loc>[^\s']+?:\d+:\d+):\n(?P<msg>.*)", re.S)
_PANIC_OLD = re.compile(r"panicked at '(?P<msg>.*?)', (?P<loc>\S+?:\d+:\d+)", re.S)
_PANIC_END = re.compile(r"^(note: run with `RUST_BACKTRACE|stack backtrace:)", re.M)
_OUTCOME = {"ok": "passed", "FAILED": "failed", "ignored": "ignored"}


class LibtestReport(BaseModel):
    """What a `cargo test` run printed, per binary and per test."""

    binaries: list[TestBinary] = Field(default_factory=list)
    tests: list[TestCase] = Field(default_factory=list)
    crashes: list[str] = Field(default_factory=list, description="binaries that ended without a result line, and why")


def panic_of(section: str) -> tuple[str, str | None]:
    """(message, location) of a failed test's output, in both the old and the new rustc panic format."""
    match = _PANIC_NEW.search(section)
    if match:
        msg = _PANIC_END.split(match["msg"], maxsplit=1)[0]
        return msg.strip()[:MESSAGE_CAP], match["loc"]
    match = _PANIC_OLD.search(section)
    if match:
        return match["msg"].strip()[:MESSAGE_CAP], match["loc"]
    lines = [ln for ln in section.splitlines() if ln.strip()]
    return "\n".join(lines[:8])[:MESSAGE_CAP], None


class _LibtestParser:
    """A line-by-line reader of cargo test's merged stdout and stderr."""

    def __init__(self) -> None:
        self.report = LibtestReport()
        self.binary: TestBinary | None = None
        self.finished = False
        self.exit_reason: str | None = None
        self.sections: dict[tuple[str, str], list[str]] = {}
        self.section: list[str] | None = None

    def _close_binary(self) -> None:
        if self.binary is not None and not self.finished:
            self.binary.ok = False
            self.binary.crashed = True
            self.report.crashes.append(f"{self.binary.name}: {self.exit_reason or 'ended without a test result'}")
        self.binary, self.finished, self.exit_reason, self.section = None, False, None, None

    def _open_binary(self, name: str) -> None:
        self._close_binary()
        self.binary = TestBinary(name=name)
        self.report.binaries.append(self.binary)

    def feed(self, line: str) -> None:
        if (m := _RUNNING.match(line)) or (m := _DOCTESTS.match(line)):
            self._open_binary(m[1] if m.re is _RUNNING else f"doc-tests {m[1]}")
            return
        if self.binary is None:
            return
        if m := _SECTION.match(line):
            self.section = self.sections.setdefault((self.binary.name, m[1]), [])
        elif m := _RESULT.match(line):
            self.binary.passed, self.binary.failed, self.binary.ignored = (int(m[i]) for i in (1, 2, 3))
            self.binary.ok = self.binary.failed == 0
            self.finished, self.section = True, None
        elif line == "failures:":
            self.section = None
        elif self.section is not None:  # a failed test's captured output: nothing in it is a verdict
            self.section.append(line)
        elif m := _TEST_LINE.match(line):
            name = m[1].removesuffix(" - should panic")
            self.report.tests.append(TestCase(name=name, binary=self.binary.name, outcome=_OUTCOME[m[2]]))  # type: ignore[arg-type]
        elif m := _EXIT.search(line):
            self.exit_reason = m[1]

    def finish(self, timed_out: bool) -> LibtestReport:
        if timed_out and self.binary is not None and not self.finished:
            self.exit_reason = "killed at the timeout"
        self._close_binary()
        for test in self.report.tests:
            lines = self.sections.get((test.binary, test.name))
            if test.outcome == "failed" and lines:
                test.message, test.location = panic_of("\n".join(lines))
        return self.report


def parse_libtest(text: str, *, timed_out: bool = False) -> LibtestReport:
    """Binaries, tests, panic messages and crashes from `cargo test` output (stdout and stderr merged)."""
    parser = _LibtestParser()
    for line in text.splitlines():
        parser.feed(line)
    return parser.finish(timed_out)


# checks -------------------------------------------------------------------------------------------
_FILTER = re.compile(TEST_FILTER)


def _timeout_note(limits: RunLimits, stage: str) -> str:
    return f"timed out after {limits.timeout:.0f}s while {stage}"


def _build_environment(run: CargoRun, diagnostics: list[Diagnostic]) -> EnvironmentIssue | None:
    """A failed build's environment issue, unless the compiler itself reported errors (then the code is at fault)."""
    if run.environment is None or any(d.level.startswith("error") and d.file for d in diagnostics):
        return None
    return run.environment


def check_compile(
    workspace: Path, *, target_dir: Path, limits: RunLimits, log_path: Path, deps: Dependencies | None = None, tree_at: Path = WORKSPACE
) -> CheckResult:
    """`cargo build --all-targets`: every target, tests included, so test-only warnings count too."""
    run = run_cargo(
        ["build", "--all-targets", "--message-format=json"],
        cwd=workspace,
        target_dir=target_dir,
        limits=limits,
        log_path=log_path,
        deps=deps,
        tree_at=tree_at,
    )
    diagnostics = _compile_diagnostics(run)
    return CheckResult(
        kind="compile",
        ok=run.returncode == 0 and not run.timed_out,
        diagnostics=diagnostics,
        duration=run.duration,
        log_path=str(log_path),
        timed_out=run.timed_out,
        output_truncated=run.truncated,
        error=_timeout_note(limits, "building") if run.timed_out else None,
        environment=_build_environment(run, diagnostics),
    )


def check_test(
    workspace: Path,
    filter: str | None = None,
    *,
    target_dir: Path,
    limits: RunLimits,
    log_path: Path,
    deps: Dependencies | None = None,
    tree_at: Path = WORKSPACE,
) -> CheckResult:
    """Compile the tests (JSON diagnostics), then `cargo test --no-fail-fast [filter]` parsed per binary."""
    base = CheckResult(kind="test", ok=False, log_path=str(log_path), filter=filter)
    if filter is not None and not _FILTER.fullmatch(filter):
        return base.model_copy(
            update={"error": f"refused test filter {filter[:40]!r}: it must not start with '-' or hold control characters"}
        )
    build = run_cargo(
        ["test", "--no-run", "--message-format=json"], cwd=workspace, target_dir=target_dir, limits=limits, log_path=log_path, deps=deps, tree_at=tree_at
    )
    diagnostics = _compile_diagnostics(build)
    base = base.model_copy(
        update={
            "diagnostics": diagnostics,
            "duration": build.duration,
            "timed_out": build.timed_out,
            "output_truncated": build.truncated,
            "environment": _build_environment(build, diagnostics),
            "tests_run": False,
        }
    )
    if build.timed_out:
        return base.model_copy(update={"error": _timeout_note(limits, "compiling the tests")})
    if build.returncode != 0:
        return base.model_copy(update={"error": "the tests do not compile"})
    remaining = limits.model_copy(update={"timeout": max(1.0, limits.timeout - build.duration)})
    args = ["test", "--no-fail-fast", *([filter] if filter else [])]
    run = run_cargo(args, cwd=workspace, target_dir=target_dir, limits=remaining, log_path=log_path, merge_stderr=True, deps=deps, tree_at=tree_at)
    report = parse_libtest(run.stdout, timed_out=run.timed_out)
    ok = run.returncode == 0 and not run.timed_out
    error = None
    if run.timed_out:
        error = _timeout_note(limits, "running the tests")
    elif report.crashes:
        error = "crashed: " + "; ".join(report.crashes)
    elif not ok and not any(t.outcome == "failed" for t in report.tests):
        causes = cargo_errors(run.stdout)
        error = causes[0].rendered if causes else f"cargo test exited with {run.returncode}"
    return base.model_copy(
        update={
            "ok": ok,
            "tests": report.tests,
            "binaries": report.binaries,
            "duration": build.duration + run.duration,
            "timed_out": run.timed_out,
            "output_truncated": build.truncated or run.truncated,
            "error": error,
            "tests_run": True,
            "environment": None,  # the tests' own output is in this run's text: whatever it says is the code's
        }
    )
