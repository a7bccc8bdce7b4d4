"""Whole files that are really excerpts, told by what writing them would do to the file.

An LLM asked for a whole file often elides unchanged code with a placeholder: a comment or a
bare `...` standing where the code was. Writing such a "whole file" deletes that code. Phrases
vary without end, so the placeholder is found by its effect: the old and new texts are compared
region by region (changed runs of lines, joined across unchanged runs of blank or bracket-only
lines), and a region is an elision when a new comment or `...` line (not the old code commented
out) stands where code was removed (not commented out either), and either

- nothing but such lines (and brackets) replaces that code, or
- definitions the old region had (`fn`, `struct`, `impl …`, `def`, `class`, …) are nowhere in the new file.

A file that keeps less than half of a long file's lines is refused too: too much is missing to
tell an excerpt from a rewrite.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Sequence

from sandbox.patch.labels import is_comment
from sandbox.patch.text import loose

EXCERPT_MIN_LINES = 20
EXCERPT_KEPT = 0.5

_ELLIPSIS = re.compile(r"^\s*(?:\.{3,}|…)\s*$")
_DOC = re.compile(r"^\s*(?:///|//!|/\*\*|/\*!|#!)")
_MARKER = re.compile(r"^\s*(?://+!?|#+|--|/\*+|<!--|;+)\s?")
_DEF = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:(?:async|const|unsafe|default|extern(?:\s+\"[^\"]*\")?)\s+)*"
    r"(?P<kind>fn|struct|enum|trait|mod|type|union|static|const|macro_rules!|def|class|function|func|interface)\s+(?:r#)?(?P<name>[A-Za-z_]\w*)"
)
_IMPL = re.compile(r"^\s*(?:unsafe\s+)?impl\b(?P<rest>[^{]*)")


def _bracket_only(line: str) -> bool:
    return not re.search(r"\w", line)


def _placeholder(line: str) -> bool:
    """A line that can stand for elided code: a comment that is not a doc comment, or a bare ellipsis."""
    if _ELLIPSIS.match(line):
        return True
    return is_comment(line) and (not _DOC.match(line) or "..." in line or "…" in line)


def _code(line: str) -> bool:
    return bool(line.strip()) and not is_comment(line) and not _bracket_only(line)


def _definitions(lines: Sequence[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for line in lines:
        found = _DEF.match(line)
        if found:
            out.add((found["kind"], found["name"]))
        elif (impl := _IMPL.match(line)) is not None:
            out.add(("impl", loose(impl["rest"])))
    return out


def _regions(old: list[str], new: list[str]) -> list[tuple[list[str], list[str]]]:
    """Changed regions as (old lines, new lines), joined across unchanged blank or bracket-only runs."""
    matcher = difflib.SequenceMatcher(None, [loose(t) for t in old], [loose(t) for t in new], autojunk=False)
    regions: list[tuple[list[str], list[str]]] = []
    bridge: tuple[list[str], list[str]] | None = None  # an unchanged run that may join two changes
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            joins = bool(regions) and bridge is not None and all(_bracket_only(t) for t in old[i1:i2])
            bridge = (old[i1:i2], new[j1:j2]) if joins else None
            continue
        if bridge is None:
            regions.append(([], []))
        else:
            regions[-1][0].extend(bridge[0])
            regions[-1][1].extend(bridge[1])
        regions[-1][0].extend(old[i1:i2])
        regions[-1][1].extend(new[j1:j2])
        bridge = ([], [])
    return regions


def _commented_out(line: str, old: set[str]) -> bool:
    """Whether a comment line is old code commented out (`// foo();` where `foo();` was)."""
    return loose(_MARKER.sub("", line, count=1)) in old


def excerpt_reason(old: Sequence[str], new: Sequence[str], *, whole_only: bool = False) -> str | None:
    """Why `new` (lines) is an excerpt of `old` rather than its new whole text, or None.

    `whole_only` skips the share-kept rule, for carriers that declare a replacement (`<code_file>`).
    """
    old, new = list(old), list(new)
    old_keys = {loose(t) for t in old}
    new_defs = _definitions(new)
    for before, after in _regions(old, new):
        stands = [t for t in after if _placeholder(t) and loose(t) not in old_keys and not _commented_out(t, old_keys)]
        kept = {loose(_MARKER.sub("", t, count=1)) for t in after if is_comment(t)}
        removed = [t for t in before if _code(t) and loose(t) not in kept]
        if not stands or not removed:
            continue
        rest = [t for t in after if _code(t) and not _placeholder(t)]
        lost = sorted(f"{kind} {name}" for kind, name in _definitions(before) - new_defs)
        if not rest:
            return f"{stands[0].strip()[:80]!r} stands where {len(removed)} line(s) of code were"
        if lost:
            return f"{stands[0].strip()[:80]!r} stands where {', '.join(lost[:3])} {'was' if len(lost) == 1 else 'were'}"
    if whole_only:
        return None
    had = Counter(k for k in map(loose, old) if k)
    if sum(had.values()) < EXCERPT_MIN_LINES:
        return None
    kept = sum((had & Counter(k for k in map(loose, new) if k)).values())
    if kept < EXCERPT_KEPT * sum(had.values()):
        return f"it keeps only {kept} of the file's {sum(had.values())} non-blank lines"
    return None
