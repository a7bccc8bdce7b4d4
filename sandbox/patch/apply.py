"""The all-or-nothing driver: plan every file, then write them all, and report."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from loguru import logger

from sandbox.errors import PatchRefused, PathRefused
from sandbox.models import ApplyResult, FileChange
from sandbox.patch.modules import undeclared
from sandbox.patch.plan import Plan, ResolveId, make_plan
from sandbox.patch.sensitive import is_build_sensitive
from sandbox.patch.text import Lines
from sandbox.patch.write import write_changes


def refusal(exc: PatchRefused | PathRefused) -> ApplyResult:
    """A refusal as a result: the reason, the hunk and the closest place found."""
    logger.info(f"patch refused: {str(exc).splitlines()[0]}")
    if isinstance(exc, PathRefused):
        return ApplyResult(ok=False, error=str(exc))
    return ApplyResult(ok=False, error=str(exc), hunk=exc.hunk, closest=exc.closest, already_applied=exc.already_applied)


def plan_or_refusal(root: Path, payload: str, *, resolve_id: ResolveId | None = None, default_path: str | None = None) -> Plan | ApplyResult:
    """The plan of a payload, or the refusal (never raised) when it cannot be applied exactly."""
    try:
        return make_plan(root, payload, resolve_id=resolve_id, default_path=default_path)
    except (PatchRefused, PathRefused) as exc:
        return refusal(exc)


Recorder = Callable[[list[FileChange]], AbstractContextManager[object]]


def apply_payload(
    root: Path,
    payload: str,
    *,
    resolve_id: ResolveId | None = None,
    default_path: str | None = None,
    record: Recorder | None = None,
) -> ApplyResult:
    """Plan and write; a refusal comes back as ApplyResult(ok=False, error, hunk, closest), never raised.

    `record(changes)`, when given, is entered after planning and before the first file is written,
    and sees the write's failure: a caller that must know a patch before it lands (undo, crash
    recovery) writes it down there.
    """
    plan = plan_or_refusal(root, payload, resolve_id=resolve_id, default_path=default_path)
    if isinstance(plan, ApplyResult):
        return plan
    try:
        with record(plan.changes) if record is not None else nullcontext():
            write_changes(root, plan.changes)
    except PatchRefused as exc:
        return refusal(exc)
    logger.info(f"patch applied ({', '.join(plan.formats)}): {', '.join(c.path for c in plan.changes)}")
    result = apply_result(plan.changes, plan.formats)
    result.undeclared = undeclared(root, result.created)
    return result


DIFF_CAP = 20_000
"""Characters of the unified diff an ApplyResult carries (a summary shows far less)."""


def _unified(change: FileChange) -> list[str]:
    before, after = (change.before or "").splitlines(), (change.after or "").splitlines()
    old = f"a/{change.path}" if change.before is not None else "/dev/null"
    new = f"b/{change.path}" if change.after is not None else "/dev/null"
    return list(difflib.unified_diff(before, after, old, new, n=2, lineterm=""))


def apply_result(changes: Sequence[FileChange], formats: Sequence[str] = ()) -> ApplyResult:
    """Describe written changes: which files changed, were created or deleted, where, and the diff."""
    regions: dict[str, tuple[int, int]] = {}
    diff: list[str] = []
    stat: dict[str, tuple[int, int]] = {}
    for change in changes:
        lines = _unified(change)
        body = [ln for ln in lines[2:] if not ln.startswith("@@")]
        stat[change.path] = (sum(ln.startswith("+") for ln in body), sum(ln.startswith("-") for ln in body))
        diff += lines
        region = _region(change.before or "", change.after) if change.after is not None else None
        if region is not None:
            regions[change.path] = region
    return ApplyResult(
        ok=True,
        changed=[c.path for c in changes if c.action == "modify"],
        created=[c.path for c in changes if c.action == "create"],
        deleted=[c.path for c in changes if c.action == "delete"],
        build_sensitive=[c.path for c in changes if is_build_sensitive(c.path)],
        formats=list(formats),
        regions=regions,
        diff="\n".join(diff)[:DIFF_CAP],
        stat=stat,
    )


def _region(before: str, after: str) -> tuple[int, int] | None:
    """The first and last line (1-based) of `after` that differ from `before`; a pure removal names the line after it."""
    old, new = Lines.parse(before).texts, Lines.parse(after).texts
    if not new:
        return None
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    first = min(prefix + 1, len(new))
    return first, max(first, len(new) - suffix)
