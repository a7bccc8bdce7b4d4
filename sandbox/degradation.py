"""Compare the workspace's checks with its base commit's: a pure function."""

from __future__ import annotations

from sandbox.models import CheckResult, Diagnostic


def _warning_key(diag: Diagnostic) -> tuple[str | None, str, str | None]:
    """Line numbers shift with edits, so a warning is known by code, message and file."""
    return (diag.code, diag.message, diag.file)


def _passed(result: CheckResult) -> set[str]:
    return {f"{t.binary}::{t.name}" if t.binary else t.name for t in result.tests if t.outcome == "passed"}


def _by_key(result: CheckResult) -> dict[str, str]:
    return {(f"{t.binary}::{t.name}" if t.binary else t.name): t.outcome for t in result.tests}


def compare(base_build: CheckResult, base_tests: CheckResult, build: CheckResult, tests: CheckResult, base_commit: str) -> CheckResult:
    """Degradation: the build must still succeed, with no new warnings, no lost passing test and no new failing test.

    A test that failed at the base and still fails is not the patch's doing; a new test that fails is.
    """
    base_warnings = {_warning_key(d) for d in base_build.warnings + base_tests.warnings}
    seen: set[tuple[str | None, str, str | None]] = set()
    new_warnings: list[Diagnostic] = []
    for diag in build.warnings + tests.warnings:
        key = _warning_key(diag)
        if key not in base_warnings and key not in seen:
            seen.add(key)
            new_warnings.append(diag)
    now = _by_key(tests)
    before = _by_key(base_tests)
    regressions = sorted(
        f"{name} ({'missing' if name not in now else now[name]})" for name in _passed(base_tests) if now.get(name) != "passed"
    )
    regressions += sorted(f"{name} (failed, new)" for name, outcome in now.items() if outcome == "failed" and name not in before)
    errors = build.errors + [d for d in tests.errors if d not in build.errors]
    ok = build.ok and tests.error is None and not build.timed_out and not tests.timed_out and not new_warnings and not regressions
    return CheckResult(
        kind="degradation",
        ok=ok,
        diagnostics=errors + new_warnings,
        tests=tests.tests,
        binaries=tests.binaries,
        duration=build.duration + tests.duration,
        log_path=tests.log_path or build.log_path,
        timed_out=build.timed_out or tests.timed_out,
        output_truncated=build.output_truncated or tests.output_truncated,
        error=build.error or tests.error,
        regressions=regressions,
        new_warnings=new_warnings,
        base_commit=base_commit,
    )
