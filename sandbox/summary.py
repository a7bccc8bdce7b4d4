"""Results as bounded chat text: every error code and failing test accounted for, within a budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from sandbox.markdown import fenced
from sandbox.models import ApplyResult, CheckResult, Diagnostic, FetchResult, Preflight, TestBinary, TestCase
from sandbox.redact import redact
from sandbox.text import clip, one_line

DEFAULT_BUDGET = 1500
"""Characters per summary; only the list of distinct error codes may push past it."""
NAME_CAP = 40
"""Most failing-test names ever listed, however large the budget."""
LOCATION_CAP = 3
"""Locations listed per error code at the richest level."""
FEW_NAMES = 10
"""Test names listed before the first failure's text gets its room."""
_FAILING_BINARIES = 1
"""The level of the binaries section that lists only failed and crashed binaries."""
_LOCATED = 2
"""The level of a diagnostics section that gives every code one location (see `_group_levels`)."""


# layout engine --------------------------------------------------------------------------------
@dataclass
class _Section:
    """One block of the summary: its renderings from richest to leanest; the leanest is always kept."""

    levels: list[str]
    chosen: int = -1

    @property
    def text(self) -> str:
        return self.levels[self.chosen]


def _compose(sections: Sequence[_Section]) -> str:
    return "\n".join(s.text for s in sections if s.text)


def _fit(budget: int, sections: Sequence[_Section], plan: Sequence[tuple[_Section, int]] = ()) -> str:
    """Start every section (given in display order) at its leanest rendering, then enrich step by step while the text fits.

    Each plan step names a section and the richest level (0 = richest) it may reach in that step;
    without a plan, the sections are enriched fully, in the order given.
    """
    for section in sections:
        section.chosen = len(section.levels) - 1
    for section, richest in plan or [(s, 0) for s in sections]:
        for index in range(richest, section.chosen):
            previous, section.chosen = section.chosen, index
            if len(_compose(sections)) <= budget:
                break
            section.chosen = previous
    return _compose(sections)


# text helpers ----------------------------------------------------------------------------------
def _excerpt(text: str, lines: int, width: int = 160) -> str:
    rows = [clip(row, width) if len(row) > width else row.rstrip() for row in redact(text).strip("\n").splitlines()]
    cut = rows[:lines] + (["…"] if len(rows) > lines else [])
    return "\n".join(cut)


def _excerpt_levels(title: str, text: str | None, sizes: Sequence[int] = (14, 8, 5, 3), lang: str = "text") -> list[str]:
    if not text or not text.strip():
        return [""]
    return [f"{title}\n{fenced(_excerpt(text, n), lang)}" for n in sizes] + [""]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _count(n: int) -> str:
    return f" ×{n}" if n > 1 else ""


def _capped_names(title: str, names: Sequence[str]) -> list[str]:
    """`title (N): a, b, c +K more`, from NAME_CAP names down to one."""
    levels = []
    for shown in range(min(len(names), NAME_CAP), 0, -1):
        more = len(names) - shown
        listed = ", ".join(f"`{n}`" for n in names[:shown])
        levels.append(f"{title} ({len(names)}): {listed}" + (f" +{more} more" if more else ""))
    return levels or [""]


def _names_index(section: _Section, names: int) -> int:
    """The level of a `_capped_names` section that lists `names` names."""
    return max(0, len(section.levels) - names)


def _log_line(result: CheckResult) -> str:
    return f"Full log: `{PurePath(result.log_path).name}`" if result.log_path else ""


# diagnostics -----------------------------------------------------------------------------------
@dataclass
class _Group:
    """Diagnostics sharing a code (or, without a code, a message)."""

    label: str
    coded: bool
    message: str
    locations: list[str]
    count: int = 0


def _groups(diags: Sequence[Diagnostic]) -> list[_Group]:
    groups: dict[str, _Group] = {}
    for diag in diags:
        key = diag.code or f"msg:{diag.message}"
        group = groups.get(key)
        if group is None:
            label = diag.code or one_line(diag.message, 60)
            group = groups[key] = _Group(label=label, coded=diag.code is not None, message=diag.message, locations=[])
        group.count += 1
        if diag.file is not None and diag.location not in group.locations:
            group.locations.append(diag.location)
    return list(groups.values())


def _group_line(group: _Group, *, message: bool, locations: int) -> str:
    text = f"- `{group.label}`{_count(group.count)}"
    if message and group.coded:
        text += f" {one_line(redact(group.message), 70)}"
    if locations and group.locations:
        shown = group.locations[:locations]
        extra = len(group.locations) - len(shown)
        text += " at " + ", ".join(shown) + (f" +{extra} more" if extra else "")
    return text


def _compact(groups: Sequence[_Group]) -> str:
    coded = [f"{g.label}{_count(g.count)}" for g in groups if g.coded]
    uncoded = sum(g.count for g in groups if not g.coded)
    return ", ".join(coded + ([f"uncoded{_count(uncoded)}" if uncoded > 1 else "uncoded"] if uncoded else []))


def _group_levels(title: str, diags: Sequence[Diagnostic], *, keep: bool) -> list[str]:
    """Every group with message and locations, then fewer details, then codes only (kept if `keep`)."""
    groups = _groups(diags)
    if not groups:
        return [""]
    head = f"{title} ({len(diags)}):"
    full = [_group_line(g, message=True, locations=LOCATION_CAP) for g in groups]
    described = [_group_line(g, message=True, locations=1) for g in groups]
    located = [_group_line(g, message=False, locations=1) for g in groups]
    levels = ["\n".join([head, *rows]) for rows in (full, described, located)]
    for shown in range(len(groups) - 1, 0, -1):  # the first groups keep a location, the rest only their code
        levels.append("\n".join([head, *located[:shown], f"- also: {_compact(groups[shown:])}"]))
    levels.append(f"{head} {_compact(groups)}")
    return levels if keep else [*levels, ""]


def _first_error(result: CheckResult) -> list[str]:
    errors = result.errors
    if not errors:
        return [""]
    first = errors[0]
    where = f" at {first.location}" if first.file is not None else ""
    return _excerpt_levels(f"First error{where}:", first.rendered or first.message)


# tests -------------------------------------------------------------------------------------------
def _binary_counts(result: CheckResult) -> tuple[int, int, int]:
    """Totals from libtest's result lines, or from the test lines for binaries that crashed."""
    passed = failed = ignored = 0
    for binary in result.binaries:
        if binary.crashed:
            own = [t.outcome for t in result.tests if t.binary == binary.name]
            passed, failed, ignored = passed + own.count("passed"), failed + own.count("failed"), ignored + own.count("ignored")
        else:
            passed, failed, ignored = passed + binary.passed, failed + binary.failed, ignored + binary.ignored
    if not result.binaries:
        outcomes = [t.outcome for t in result.tests]
        return outcomes.count("passed"), outcomes.count("failed"), outcomes.count("ignored")
    return passed, failed, ignored


def _binary_line(binary: TestBinary) -> str:
    if binary.crashed:
        return f"- {binary.name}: CRASHED"
    parts = [f"{binary.passed} passed"] + [f"{n} {w}" for n, w in ((binary.failed, "failed"), (binary.ignored, "ignored")) if n]
    return f"- {binary.name}: {', '.join(parts)}"


def _binary_levels(result: CheckResult) -> list[str]:
    """Every binary that ran, then only those that failed or crashed, then nothing."""
    ran = [b for b in result.binaries if b.crashed or b.passed + b.failed + b.ignored]
    bad = "\n".join(_binary_line(b) for b in ran if not b.ok)
    return ["\n".join(_binary_line(b) for b in ran) if len(ran) > 1 else bad, bad, ""]


def _failures(result: CheckResult) -> list[TestCase]:
    """Failed tests in a stable order: each binary's first failure, then the rest, by binary and name."""
    rank = {b.name: i for i, b in enumerate(result.binaries)}
    ordered = sorted(result.failed_tests, key=lambda t: (rank.get(t.binary, len(rank)), t.name))
    firsts = list({t.binary: t for t in reversed(ordered)}.values())[::-1]
    return firsts + [t for t in ordered if t not in firsts]


FAILURE_TEXTS = 3
"""Failed tests whose assertion text (left/right) and location a summary shows at most."""


def _failure_text(test: TestCase, lines: int) -> str:
    where = f" at {test.location}" if test.location else ""
    if not test.message or not test.message.strip():
        return f"`{test.name}`{where}"
    return f"`{test.name}`{where}:\n{fenced(_excerpt(test.message, lines), 'text')}"


def _failure_levels(failures: Sequence[TestCase]) -> list[str]:
    """The first failures' assertion text and location: up to FAILURE_TEXTS of them, then fewer and shorter."""
    if not failures:
        return [""]
    levels = []
    for shown in range(min(len(failures), FAILURE_TEXTS), 0, -1):
        for lines in (10, 6, 3, 1):
            title = "First failure" if shown == 1 else f"First {shown} failures"
            levels.append(f"{title}:\n" + "\n".join(_failure_text(t, lines) for t in failures[:shown]))
    return [*levels, ""]


def _still_failing(result: CheckResult, failures: Sequence[TestCase]) -> list[TestCase]:
    """A degradation's failed tests that are not already listed as regressions (they failed at the base too)."""
    if result.kind != "degradation":
        return list(failures)
    listed = {r.rsplit(" (", 1)[0] for r in result.regressions}
    return [t for t in failures if (f"{t.binary}::{t.name}" if t.binary else t.name) not in listed]


def _tests_phrase(result: CheckResult) -> str:
    passed, failed, ignored = _binary_counts(result)
    text = f"{passed} passed, {failed} failed"
    return text + (f", {ignored} ignored" if ignored else "")


# checks ------------------------------------------------------------------------------------------
def _verdict(result: CheckResult) -> str:
    if result.environment is not None and not result.ok:
        return "BLOCKED BY THE ENVIRONMENT"
    if result.timed_out:
        return "TIMED OUT"
    return "OK" if result.ok else "FAILED"


def _notes(result: CheckResult) -> list[str]:
    """The why-it-stopped line(s), from full to one short line; always kept."""
    notes = []
    if result.error:
        notes.append(redact(result.error))
    if result.output_truncated:
        notes.append("Output was over the cap: the middle was dropped (the log keeps the start and the end).")
    if not notes:
        return [""]
    return ["\n".join(clip(n, width) for n in notes) for width in (600, 240, 100)]


def _header(result: CheckResult) -> str:
    errors, warnings = len(result.errors), len(result.warnings)
    codes = len({d.code for d in result.errors if d.code})
    if result.kind == "compile":
        title = "check compile"
        parts = [_plural(errors, "error") + (f" ({codes} codes)" if codes > 1 else ""), _plural(warnings, "warning")]
    elif result.kind == "test":
        title = "check test" + (f" #{result.filter}" if result.filter else "")
        parts = [_tests_phrase(result)] if result.binaries or result.tests else []
        parts += [_plural(errors, "compile error")] if errors else []
        parts += [_plural(warnings, "warning")] if warnings else []
    else:
        title = "check degradation" + (f" vs {result.base_commit[:10]}" if result.base_commit else "")
        parts = [_plural(len(result.regressions), "regression"), _plural(len(result.new_warnings), "new warning")]
        parts += [_plural(errors, "build error")] if errors else []
        parts += [_tests_phrase(result)] if result.tests else [] if result.tests_run else ["tests not run"]
    took = f"{result.duration:.1f}s" + (f" (+ {result.base_duration:.1f}s building the base once)" if result.base_duration else "")
    if result.environment is not None and not result.ok:
        parts = []
    return f"**{title}: {_verdict(result)}** · " + " · ".join([*parts, took])


def _environment_levels(result: CheckResult) -> list[str]:
    """What the environment lacks, where cargo looked, whether the base fails the same way, and what to do."""
    issue = result.environment
    if issue is None or result.ok:
        return [""]
    what = {
        "dependency-unavailable": "not available offline",
        "registry-unreachable": "the registry could not be reached",
        "toolchain-missing": "toolchain missing",
        "disk-full": "the disk is full",
        "timeout": "the build ran past the time limit",
        "sandbox": "the sandbox could not be set up",
    }[issue.kind]
    names = ", ".join(f"`{m}`" for m in issue.missing)
    head = f"Not the code's fault: {what}" + (f": {names}" if names else "") + "."
    rows = [head]
    if issue.looked_in:
        rows.append(f"Cargo looked in: {redact(issue.looked_in)}")
    if issue.detail:
        rows.append(redact(issue.detail))
    if result.kind == "degradation":
        rows.append("The base commit fails the same way." if issue.at_base else "The base commit builds: the patch needs what is missing.")
    short = list(dict.fromkeys([head, rows[-1]]))
    advice = [f"What to do: {issue.advice}"] if issue.advice else []
    return ["\n".join(clip(r, 600) for r in [*rows, *advice]), "\n".join(clip(r, 300) for r in rows), "\n".join(short)]


def _no_match(result: CheckResult) -> str:
    if result.kind == "test" and result.filter and result.ok and not result.tests:
        return f"No test matched `{result.filter}`."
    return ""


def summarize_check(result: CheckResult, budget: int = DEFAULT_BUDGET) -> str:
    """A compile, test or degradation result as chat text of at most `budget` characters.

    Every distinct error code survives; if the codes alone do not fit, the text runs over the budget.
    """
    header = _Section([_header(result)])
    environment = _Section(_environment_levels(result))
    if result.environment is not None and not result.ok:  # cargo's words are in the environment section
        return _fit(budget, [header, environment, _Section([_log_line(result)])])
    notes = _Section(_notes(result))
    nomatch = _Section([_no_match(result)])
    errors = _Section(_group_levels("Errors", result.errors, keep=True))
    regressions = _Section(_capped_names("Regressions", result.regressions))
    new_warnings = _Section(_group_levels("New warnings", result.new_warnings, keep=result.kind == "degradation"))
    binaries = _Section(_binary_levels(result))
    failures = _failures(result)
    still = _still_failing(result, failures)
    failed = _Section(_capped_names("Failed" if result.kind != "degradation" else "Still failing (as at the base)", [t.name for t in still]))
    first_error = _Section(_first_error(result))
    first_failure = _Section(_failure_levels(failures))
    warnings = _Section(_group_levels("Warnings", result.warnings if result.kind != "degradation" else [], keep=False))
    log = _Section([_log_line(result)])
    sections = [header, notes, nomatch, errors, regressions, new_warnings, binaries, failed, first_error, first_failure]
    sections += [warnings, log]
    plan = [
        (notes, 0),
        (errors, _LOCATED),
        (regressions, _names_index(regressions, FEW_NAMES)),
        (new_warnings, _LOCATED),
        (failed, _names_index(failed, FEW_NAMES)),
        (first_error, 0),
        (first_failure, 0),
        (binaries, _FAILING_BINARIES),
        (errors, 0),
        (regressions, 0),
        (failed, 0),
        (binaries, 0),
        (new_warnings, 0),
        (warnings, 0),
    ]
    return _fit(budget, sections, plan)


# apply ---------------------------------------------------------------------------------------------
def _change_levels(result: ApplyResult) -> list[str]:
    """Every changed file with its changed lines, then without, then the first few, then counts."""
    changes = [
        (verb, path)
        for verb, paths in (("modified", result.changed), ("created", result.created), ("deleted", result.deleted))
        for path in paths
    ]
    if not changes:
        return ["No file changed."]

    def row(verb: str, path: str, with_lines: bool) -> str:
        span = result.regions.get(path) if with_lines else None
        if span is None:
            return f"- {verb} `{path}`"
        return f"- {verb} `{path}` " + (f"(line {span[0]})" if span[0] == span[1] else f"(lines {span[0]}–{span[1]})")

    levels = ["\n".join(row(v, p, True) for v, p in changes)]
    for shown in range(min(len(changes), NAME_CAP), 0, -1):
        more = len(changes) - shown
        levels.append("\n".join([row(v, p, False) for v, p in changes[:shown]] + ([f"- +{more} more"] if more else [])))
    counts = ", ".join(
        f"{sum(v == verb for v, _ in changes)} {verb}"
        for verb in ("modified", "created", "deleted")
        if any(v == verb for v, _ in changes)
    )
    return [*levels, f"Files: {counts}"]


def undeclared_note(paths: Sequence[str]) -> str:
    """The warning for new Rust files cargo never compiles (`ApplyResult.undeclared`)."""
    names = ", ".join(f"`{p}`" for p in paths[:5]) + (f" +{len(paths) - 5} more" if len(paths) > 5 else "")
    return (f"Not compiled: {names}: no `mod` declares it and it is no target's root, so no check builds it; "
            "declare it (`mod name;` in its parent module) for checks to cover it.")


def summarize_apply(result: ApplyResult, budget: int = DEFAULT_BUDGET) -> str:
    """An applied patch (files, changed lines, build-sensitive warning) or a refusal with its hunk and closest place."""
    carriers = f" ({', '.join(result.formats)})" if result.formats else ""
    if result.ok:
        sections = [_Section([f"**Patch applied**{carriers}"]), _Section(_change_levels(result))]
        if result.build_sensitive:
            files = ", ".join(f"`{p}`" for p in result.build_sensitive)
            sections.append(_Section([f"Build-sensitive (runs code at build time, review before building): {files}"]))
        if result.undeclared:
            sections.append(_Section([undeclared_note(result.undeclared)]))
        return _fit(budget, sections)
    reason = redact(result.error or "unknown reason")
    title = _Section([f"**Patch refused**{carriers}: {one_line(reason, n)}\nNothing was changed." for n in (500, 200, 80)])
    hunk = _Section(_excerpt_levels("Hunk that could not be placed:", result.hunk, sizes=(16, 8, 4), lang="diff"))
    closest = _Section(_excerpt_levels("Closest place in the file:", result.closest, sizes=(12, 6, 3)))
    return _fit(budget, [title, hunk, closest])


# preflight -----------------------------------------------------------------------------------------
def summarize_preflight(result: Preflight, budget: int = DEFAULT_BUDGET) -> str:
    """The environment check: its verdict, the setup warnings and notes, then the base commit's check (the rest of the budget)."""
    verdict = "OK" if result.ok else "PROBLEMS FOUND"
    lines = [f"**check environment: {verdict}** · base {result.base.base_commit[:10] if result.base.base_commit else ''}".rstrip()]
    lines += [f"- warning: {redact(w)}" for w in result.warnings]
    lines += [f"- note: {redact(n)}" for n in result.notes]
    head = "\n".join(clip(line, 400) for line in lines)
    base = summarize_check(result.base.model_copy(update={"kind": "test"}), budget=max(300, budget - len(head) - 1))
    return head + "\nBase commit: " + base.replace("**check test", "**build and tests", 1)


def summarize_fetch(result: FetchResult, budget: int = DEFAULT_BUDGET) -> str:
    """The fetch stage as chat text: what it refused (nothing fetched) or downloaded, then the degradation check again."""
    if result.refused:
        shown = "\n".join(f"- {line}" for line in result.refused[:8]) + (f"\n- +{len(result.refused) - 8} more" if len(result.refused) > 8 else "")
        return clip(f"fetch: REFUSED before any network use: a source is neither crates.io nor a configured registry\n{shown}", budget)
    if not result.ok:
        head = f"fetch: FAILED after {result.duration:.1f}s" + (f" ({result.environment.kind})" if result.environment else "")
        return clip(f"{head}\n{result.detail}", budget)
    got = ", ".join(result.downloaded[:12]) + (f" +{len(result.downloaded) - 12} more" if len(result.downloaded) > 12 else "")
    head = f"fetch: ok in {result.duration:.1f}s{' (--locked)' if result.locked else ''}: " + (f"downloaded {got}" if got else "nothing new to download")
    if result.check is None:
        return head
    return head + "\n" + summarize_check(result.check, budget=max(200, budget - len(head) - 1))
