"""Bounded chat summaries of check and apply results."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from sandbox.cargo import parse_diagnostics, parse_libtest
from sandbox.models import ApplyResult, CheckResult, Diagnostic, TestBinary, TestCase
from sandbox.summary import DEFAULT_BUDGET, summarize_apply, summarize_check

DATA = Path(__file__).resolve().parents[1] / "data" / "cargo"
LOG = "`20260101-check.log`"


def _many_errors() -> tuple[str, CheckResult]:
    with gzip.open(DATA / "many_errors.jsonl.gz", "rt") as fh:
        raw = fh.read()
    result = CheckResult(kind="compile", ok=False, diagnostics=parse_diagnostics(raw), duration=3.2, log_path=LOG)
    return raw, result


def _codes_in_raw(raw: str) -> set[str]:
    """Error codes as rustc rendered them, found without the parser under test."""
    return set(re.findall(r"error\[(E\d{4})\]", raw))


def _mixed_run() -> CheckResult:
    report = parse_libtest((DATA / "test_run_mixed.txt").read_text())
    return CheckResult(
        kind="test",
        ok=False,
        tests=report.tests,
        binaries=report.binaries,
        log_path=LOG,
        error="crashed: " + "; ".join(report.crashes),
    )


@pytest.mark.parametrize("budget", [DEFAULT_BUDGET, 800, 3000])
def test_hundreds_of_errors_fit_and_keep_every_code(budget: int) -> None:
    raw, result = _many_errors()
    assert len(result.errors) == 276
    codes = _codes_in_raw(raw)
    assert len(codes) == 23
    text = summarize_check(result, budget=budget)
    assert len(text) <= budget
    assert {c for c in codes if f"`{c}`" in text or re.search(rf"\b{c}\b", text)} == codes
    assert "276" in text and LOG in text


def test_every_code_keeps_a_location_at_the_default_budget() -> None:
    _, result = _many_errors()
    text = summarize_check(result)
    for code in {d.code for d in result.errors}:
        first = next(d for d in result.errors if d.code == code)
        assert re.search(rf"^- `{code}` ×12( [^\n]*)? at {re.escape(first.location)}", text, re.M), code


def test_codes_survive_a_budget_too_small_for_them() -> None:
    _, result = _many_errors()
    text = summarize_check(result, budget=120)
    assert _codes_in_raw("".join(f"error[{d.code}]" for d in result.errors)) <= set(re.findall(r"E\d{4}", text))
    assert "src/broken.rs" not in text  # locations went first
    assert "First error" not in text and LOG in text


def test_first_error_excerpt_keeps_rustc_layout() -> None:
    _, result = _many_errors()
    text = summarize_check(result, budget=3000)
    first = result.errors[0]
    assert f"First error at {first.location}:" in text
    assert first.rendered.splitlines()[1] in text  # " --> src/…" keeps its indentation


def _failing(n: int, binaries: int = 2) -> CheckResult:
    tests = [
        TestCase(
            name=f"suite::case_{i:04d}",
            binary=f"bin{i % binaries}",
            outcome="failed",
            message=f"case {i} broke",
            location=f"src/s.rs:{i + 1}:5",
        )
        for i in range(n)
    ]
    tests += [TestCase(name="suite::fine", binary="bin0", outcome="passed")]
    bins = [
        TestBinary(name=f"bin{b}", passed=int(b == 0), failed=sum(t.binary == f"bin{b}" for t in tests[:n]), ok=False)
        for b in range(binaries)
    ]
    return CheckResult(kind="test", ok=False, tests=tests, binaries=bins, log_path=LOG)


def test_failing_test_names_capped_with_more() -> None:
    text = summarize_check(_failing(300))
    assert len(text) <= DEFAULT_BUDGET
    listed = re.search(r"Failed \(300\): (.*) \+(\d+) more", text)
    assert listed is not None
    shown = re.findall(r"`([^`]+)`", listed[1])
    assert len(shown) + int(listed[2]) == 300
    assert shown[:3] == ["suite::case_0000", "suite::case_0001", "suite::case_0002"]  # each binary's first failure leads
    assert "First 3 failures:\n`suite::case_0000` at src/s.rs:1:5" in text and "case 0 broke" in text and "case 2 broke" in text
    assert "1 passed, 300 failed" in text


def test_few_failures_are_all_named() -> None:
    text = summarize_check(_failing(3, binaries=1))
    assert "Failed (3): `suite::case_0000`, `suite::case_0001`, `suite::case_0002`" in text
    assert "more" not in text


def test_real_test_run_summary() -> None:
    text = summarize_check(_mixed_run())
    assert text.startswith("**check test: FAILED** · 2 passed, 4 failed, 2 ignored")
    assert "tests/cli.rs: signal: 6, SIGABRT" in text and "tests/exits.rs: exit status: 3" in text
    assert "- tests/cli.rs: CRASHED" in text
    assert "Failed (4): `tests::bad_eq`, `c`, `src/lib.rs - add (line 3)`, `tests::bad_panic`" in text
    assert "failures:\n`tests::bad_eq` at src/lib.rs:12:27:" in text
    assert "assertion `left == right` failed\n  left: 2\n right: 3" in text


def test_timeout_and_truncation_are_noted() -> None:
    result = CheckResult(
        kind="test",
        ok=False,
        timed_out=True,
        output_truncated=True,
        error="timed out after 600s while running the tests",
        log_path=LOG,
    )
    text = summarize_check(result, budget=400)
    assert "TIMED OUT" in text.splitlines()[0]
    assert "timed out after 600s" in text and "the middle was dropped" in text and LOG in text


def test_filter_that_matched_nothing() -> None:
    text = summarize_check(CheckResult(kind="test", ok=True, filter="nothing_like_this", log_path=LOG))
    assert "check test #nothing_like_this: OK" in text and "No test matched `nothing_like_this`." in text


def test_degradation_summary() -> None:
    warning = Diagnostic(
        level="warning", code="unused_variables", message="unused variable: `x`", file="src/date.rs", line=40, column=9
    )
    result = CheckResult(
        kind="degradation",
        ok=False,
        regressions=[f"unittests src/lib.rs::date::t{i} (failed)" for i in range(30)] + ["tests/cli.rs::prints_report (missing)"],
        new_warnings=[warning],
        diagnostics=[warning],
        base_commit="0123456789abcdef0123",
        log_path=LOG,
    )
    text = summarize_check(result)
    assert len(text) <= DEFAULT_BUDGET
    assert text.startswith("**check degradation vs 0123456789: FAILED** · 31 regressions · 1 new warning ·")
    assert "Regressions (31): `unittests src/lib.rs::date::t0 (failed)`" in text and "more" in text
    assert "New warnings (1):" in text and "`unused_variables` unused variable: `x` at src/date.rs:40:9" in text


def test_secrets_in_messages_are_masked() -> None:
    secret = "xai-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
    result = _failing(1, binaries=1)
    result.tests[0].message = f"request failed with key {secret}"
    text = summarize_check(result)
    assert secret not in text and "[redacted]" in text


def test_fences_in_messages_cannot_break_the_block() -> None:
    result = _failing(1, binaries=1)
    result.tests[0].message = "before\n```\nafter"
    text = summarize_check(result)
    blocks = [t.content for t in MarkdownIt("commonmark").parse(text) if t.type == "fence"]
    assert blocks == ["before\n```\nafter\n"]


codes = st.sampled_from([f"E0{n:03d}" for n in range(100, 140)])
diagnostic = st.builds(
    Diagnostic,
    level=st.just("error"),
    code=codes,
    message=st.text(min_size=1, max_size=80),
    file=st.sampled_from(["src/lib.rs", "src/tests/task/aggr_trades.rs", "tests/cli.rs"]),
    line=st.integers(1, 5000),
    column=st.integers(1, 200),
    rendered=st.text(max_size=400),
)


@settings(max_examples=120, deadline=None)
@given(diags=st.lists(diagnostic, min_size=1, max_size=120), failing=st.integers(0, 200), budget=st.integers(200, 4000))
def test_property_codes_survive_and_budget_holds_when_it_can(diags: list[Diagnostic], failing: int, budget: int) -> None:
    result = CheckResult(kind="test", ok=False, diagnostics=diags, error="the tests do not compile", log_path=LOG)
    result.tests = _failing(failing).tests if failing else []
    text = summarize_check(result, budget=budget)
    for code in {d.code for d in diags}:
        assert re.search(rf"`?{code}`?", text)
    if len(text) > budget:  # only when the codes alone do not fit: then nothing optional is left
        assert "First error" not in text and "First failure" not in text and "failures:" not in text
        assert not re.search(r"^- `E\d+`.* at src/", text, re.M)


# apply -----------------------------------------------------------------------------------------------
def test_apply_success() -> None:
    result = ApplyResult(
        ok=True,
        changed=["src/date.rs"],
        created=["build.rs"],
        build_sensitive=["build.rs"],
        formats=["unified diff"],
        regions={"src/date.rs": (12, 30), "build.rs": (4, 4)},
    )
    text = summarize_apply(result)
    assert text.startswith("**Patch applied** (unified diff)")
    assert "- modified `src/date.rs` (lines 12–30)" in text and "- created `build.rs` (line 4)" in text
    assert text.endswith("Build-sensitive (runs code at build time, review before building): `build.rs`")


def test_apply_many_files_bounded() -> None:
    files = [f"src/generated/module_{i:03d}.rs" for i in range(400)]
    text = summarize_apply(ApplyResult(ok=True, created=files), budget=600)
    assert len(text) <= 600
    listed = re.findall(r"^- created `(.+)`$", text, re.M)
    assert listed == files[: len(listed)] and len(listed) > 5
    assert f"- +{400 - len(listed)} more" in text


def test_apply_refusal_with_hunk_and_closest_place() -> None:
    hunk = "@@ -10,3 +10,3 @@\n" + "\n".join(f" context line {i}" for i in range(400)) + "\n-old\n+new"
    closest = "\n".join(f"{i:4d} | fn near_{i}() {{}}" for i in range(120, 220))
    result = ApplyResult(
        ok=False, error="hunk 2 of 2 does not match src/date.rs", hunk=hunk, closest=closest, formats=["unified diff"]
    )
    text = summarize_apply(result, budget=900)
    assert len(text) <= 900
    assert "**Patch refused** (unified diff): hunk 2 of 2 does not match src/date.rs" in text and "Nothing was changed." in text
    assert "@@ -10,3 +10,3 @@" in text and "context line 0" in text and "context line 399" not in text
    assert " 120 | fn near_120() {}" in text


def test_apply_refusal_without_hunk() -> None:
    text = summarize_apply(ApplyResult(ok=False, error="path escapes the project: ../etc/passwd"))
    assert text == "**Patch refused**: path escapes the project: ../etc/passwd\nNothing was changed."
