"""The degradation verdict and its summary: pure functions over check results."""

from __future__ import annotations

from sandbox.degradation import compare
from sandbox.environment import classify
from sandbox.models import CheckResult, Diagnostic, EnvironmentIssue, TestCase
from sandbox.summary import summarize_check

SHA = "0123456789abcdef"


def warning(line: int, file: str = "src/lib.rs", code: str = "unused_variables") -> Diagnostic:
    return Diagnostic(level="warning", code=code, message="unused variable: `x`", file=file, line=line, column=9)


def build(*diags: Diagnostic, ok: bool = True, environment: EnvironmentIssue | None = None) -> CheckResult:
    return CheckResult(kind="compile", ok=ok, diagnostics=list(diags), environment=environment)


def run_of(*cases: tuple[str, str], ok: bool = True, run: bool = True) -> CheckResult:
    found = [TestCase(name=name, binary="unittests src/lib.rs", outcome=outcome, message="assertion `left == right` failed\n  left: 1\n right: 2",
                      location="src/lib.rs:9:5") for name, outcome in cases]  # fmt: skip
    return CheckResult(kind="test", ok=ok, tests=found, tests_run=run)


PASSING = run_of(*[(f"tests::case_{i}", "passed") for i in range(85)])
E0425 = Diagnostic(level="error", code="E0425", message="cannot find value `y` in this scope", file="src/lib.rs", line=3, column=5)


def test_a_failed_build_lists_no_missing_tests_it_says_tests_not_run() -> None:
    result = compare(build(), PASSING, build(E0425, ok=False), run_of(ok=False, run=False), SHA)
    assert not result.ok and not result.tests_run and result.regressions == []
    text = summarize_check(result)
    assert "(missing)" not in text and "tests not run" in text and "E0425" in text


def test_a_new_copy_of_an_existing_warning_in_the_same_file_is_new() -> None:
    base = build(warning(4))
    now = build(warning(4), warning(12))
    result = compare(base, run_of(), now, run_of(), SHA)
    assert not result.ok and [d.line for d in result.new_warnings] == [12]
    moved = compare(base, run_of(), build(warning(7)), run_of(), SHA)  # the same warning after an edit above it
    assert moved.ok and moved.new_warnings == []


def test_a_warning_printed_by_both_the_build_and_the_test_build_counts_once() -> None:
    both = build(warning(4))
    result = compare(both, run_of(), both, CheckResult(kind="test", ok=True, diagnostics=[warning(4)]), SHA)
    assert result.ok


def test_a_failing_test_is_listed_once_with_its_assertion_text() -> None:
    now = run_of(("tests::a", "passed"), ("tests::b", "failed"), ok=False)
    result = compare(build(), run_of(("tests::a", "passed"), ("tests::b", "passed")), build(), now, SHA)
    text = summarize_check(result)
    assert text.count("tests::b") == 2  # the regression, and the failure text's heading
    assert "Failed (" not in text and "Still failing" not in text
    assert "left: 1" in text and "right: 2" in text and "src/lib.rs:9:5" in text


def test_a_test_failing_at_the_base_too_is_listed_as_still_failing() -> None:
    failing = run_of(("tests::old", "failed"), ok=False)
    result = compare(build(), failing, build(), failing, SHA)
    assert result.ok
    assert "Still failing (as at the base) (1): `tests::old`" in summarize_check(result)


CARGO_MISSING = """error: no matching package named `atty` found
location searched: /sources/vendored
required by package `trade_report v0.1.0 (/workspace)`
As a reminder, you're using offline mode (--offline) which can sometimes cause surprising resolution failures.
"""


def test_a_missing_crate_is_named_with_where_cargo_looked_in_host_paths() -> None:
    issue = classify(CARGO_MISSING, paths={"/sources/vendored": "/home/dev/project/vendor"})
    assert issue is not None and issue.kind == "dependency-unavailable" and issue.missing == ["atty"]
    assert issue.looked_in == "/home/dev/project/vendor"


def test_an_environment_failure_at_the_base_too_is_said_and_no_compiler_noise_is_shown() -> None:
    issue = classify(CARGO_MISSING, paths={"/sources/vendored": "/home/dev/project/vendor"})
    failed = CheckResult(kind="compile", ok=False, environment=issue,
                         diagnostics=[Diagnostic(level="error", message="no matching package named `atty` found")])  # fmt: skip
    result = compare(failed, run_of(ok=False, run=False), failed, run_of(ok=False, run=False), SHA)
    assert result.environment is not None and result.environment.at_base
    text = summarize_check(result)
    assert "BLOCKED BY THE ENVIRONMENT" in text and "`atty`" in text and "/home/dev/project/vendor" in text
    assert "The base commit fails the same way." in text
    assert "First error at ?" not in text and "(missing)" not in text and "regression" not in text


def test_a_timeout_only_the_patch_has_is_the_patchs() -> None:
    slow = CheckResult(kind="compile", ok=False, timed_out=True, environment=EnvironmentIssue(kind="timeout"))
    result = compare(build(), PASSING, slow, run_of(ok=False, run=False), SHA)
    assert result.environment is None and not result.ok


def test_the_time_reported_is_the_checks_own_and_the_bases_is_said_apart() -> None:
    now = build().model_copy(update={"duration": 0.8})
    result = compare(build(), run_of(), now, run_of().model_copy(update={"duration": 0.4}), SHA, base_duration=61.0)
    text = summarize_check(result)
    assert "1.2s (+ 61.0s building the base once)" in text


BUILD_SCRIPT_FAILS = """error: failed to run custom build command for `trade_report v0.1.0 (/workspace)`

Caused by:
  process didn't exit successfully: `/target/debug/build/trade_report-1/build-script-build` (exit status: 1)
  --- stderr
  error: no matching package named `serde` found
  No space left on device
  bwrap: Can't mount proc
"""


def test_what_a_build_script_prints_never_makes_a_verdict_the_environments() -> None:
    assert classify(BUILD_SCRIPT_FAILS) is None


def test_a_full_disk_only_the_patch_has_is_the_patchs() -> None:
    full = CheckResult(kind="compile", ok=False, environment=EnvironmentIssue(kind="disk-full", missing=["disk space"]))
    assert compare(build(), PASSING, full, run_of(ok=False, run=False), SHA).environment is None
    assert compare(full, run_of(ok=False, run=False), full, run_of(ok=False, run=False), SHA).environment is not None


def test_an_error_without_a_location_is_not_shown_at_a_question_mark() -> None:
    manifest = Diagnostic(level="error", message="failed to parse manifest at `/workspace/Cargo.toml`",
                          rendered="error: failed to parse manifest at `/workspace/Cargo.toml`")  # fmt: skip
    text = summarize_check(CheckResult(kind="compile", ok=False, diagnostics=[manifest]))
    assert "First error:" in text and " at ?" not in text
