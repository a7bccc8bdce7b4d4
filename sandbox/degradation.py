"""Compare the workspace's checks with its base commit's: a pure function."""

from __future__ import annotations

from collections import Counter

from sandbox.models import CheckResult, Diagnostic, EnvironmentIssue

WarningKey = tuple[str, str | None]
PATCH_MADE = ("timeout", "disk-full", "sandbox")
"""Environment kinds a patch can cause itself (a build script that loops or fills the disk): the environment's only when
the base has them too."""


def _warning_key(diag: Diagnostic) -> WarningKey:
    """Line numbers and names shift with edits, so a warning is known by its code (its message without one) and file."""
    return (diag.code or diag.message, diag.file)


def _warnings(build: CheckResult, tests: CheckResult) -> list[Diagnostic]:
    """Every warning once: the build and the test build print the same ones (equal to the line and column)."""
    return build.warnings + [d for d in tests.warnings if d not in build.warnings]


def _new_warnings(base: list[Diagnostic], now: list[Diagnostic]) -> list[Diagnostic]:
    """Warnings beyond the base's count of their (code, file), the later ones: a second copy of an existing warning is new."""
    extra = Counter(map(_warning_key, now)) - Counter(map(_warning_key, base))
    out: list[Diagnostic] = []
    for diag in reversed(now):
        key = _warning_key(diag)
        if extra[key] > 0:
            extra[key] -= 1
            out.append(diag)
    return out[::-1]


def _by_key(result: CheckResult) -> dict[str, str]:
    return {(f"{t.binary}::{t.name}" if t.binary else t.name): t.outcome for t in result.tests}


def _environment(base_build: CheckResult, base_tests: CheckResult, build: CheckResult, tests: CheckResult) -> EnvironmentIssue | None:
    """The environment's part in the workspace's failure, marked when the base commit fails the same way."""
    issue = build.environment or tests.environment
    if issue is None:
        return None
    at_base = base_build.environment or base_tests.environment
    same = at_base is not None and at_base.kind == issue.kind
    if issue.kind in PATCH_MADE and not same:
        return None
    return issue.model_copy(update={"at_base": same})


def compare(
    base_build: CheckResult, base_tests: CheckResult, build: CheckResult, tests: CheckResult, base_commit: str, *, base_duration: float | None = None
) -> CheckResult:
    """Degradation: the build must still succeed, with no new warnings, no lost passing test and no new failing test.

    A test that failed at the base and still fails is not the patch's doing; a new test that fails is. When the
    build fails no test runs, so none is listed as lost (`tests_run` is False). `duration` is the workspace's own
    time; `base_duration` the base's, when this check had to measure it.
    """
    new_warnings = _new_warnings(_warnings(base_build, base_tests), _warnings(build, tests))
    tests_run = build.ok and tests.tests_run
    regressions: list[str] = []
    if tests_run:
        now, before = _by_key(tests), _by_key(base_tests)
        regressions = sorted(
            f"{name} ({'missing' if name not in now else now[name]})"
            for name, outcome in before.items()
            if outcome == "passed" and now.get(name) != "passed"
        )
        regressions += sorted(f"{name} (failed, new)" for name, outcome in now.items() if outcome == "failed" and name not in before)
    errors = build.errors + [d for d in tests.errors if d not in build.errors]
    ok = build.ok and tests.error is None and not build.timed_out and not tests.timed_out and not new_warnings and not regressions
    return CheckResult(
        kind="degradation",
        ok=ok,
        diagnostics=errors + new_warnings,
        tests=tests.tests if tests_run else [],
        binaries=tests.binaries if tests_run else [],
        duration=build.duration + tests.duration,
        log_path=tests.log_path or build.log_path,
        timed_out=build.timed_out or tests.timed_out,
        output_truncated=build.output_truncated or tests.output_truncated,
        error=build.error or tests.error,
        regressions=regressions,
        new_warnings=new_warnings,
        base_commit=base_commit,
        environment=_environment(base_build, base_tests, build, tests),
        tests_run=tests_run,
        base_duration=base_duration,
    )
