"""Whole files that are really excerpts, told by what writing them would do to the file.

An LLM asked for a whole file often elides unchanged code with a placeholder: a comment or a
bare `...` standing where the code was. Writing such a "whole file" deletes that code. Phrases
vary without end, so the placeholder is found by its effect. The old and new texts are compared
region by region (changed runs of lines, joined across unchanged runs of blank or bracket-only
lines). A region is an elision when a new comment or `...` line (not old code commented out)
stands in it and

- old code lines of the region are gone from the new text (nowhere in it, not commented out,
  and not edited into a line written in the region: similar text, or most words shared), where
  lines of definitions the new text adds (a new `fn` with its attributes and body) count as
  additions, not as what replaced the old code; or
- definitions the old region had (`fn`, `struct`, `impl …`, `def`, `class`, …) are nowhere in the new file.

A rewrite puts code where code was, and a comment beside it; an elision puts only the comment.
A file that keeps less than half of a long file's lines is refused too: too much is missing to
tell an excerpt from a rewrite. Comments are told by the file's language (`//` in Rust, `#` in
TOML, `<!--` in Markdown).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Sequence

from sandbox.patch.labels import comment_test
from sandbox.patch.text import loose

EXCERPT_MIN_LINES = 20
EXCERPT_KEPT = 0.5
SIMILAR = 0.6  # difflib ratio above which an old line counts as edited into a new one
SHARED = 0.5  # or the share of the shorter line's words both lines have
_WORD = re.compile(r"\w+")

_ELLIPSIS = re.compile(r"^\s*(?:\.{3,}|…)\s*$")
_DOC = re.compile(r"^\s*(?:///|//!|/\*\*|/\*!|#!)")
_MARKER = re.compile(r"^\s*(?://+!?|#+|--|/\*+|<!--|;+)\s?")
_ATTRIBUTE = re.compile(r"^\s*(?:#\[|#!\[|@\w|///|//!)")
_DEF = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:(?:async|const|unsafe|default|extern(?:\s+\"[^\"]*\")?)\s+)*"
    r"(?P<kind>fn|struct|enum|trait|mod|type|union|static|const|macro_rules!|def|class|function|func|interface)\s+(?:r#)?(?P<name>[A-Za-z_]\w*)"
)
_IMPL = re.compile(r"^\s*(?:unsafe\s+)?impl\b(?P<rest>[^{]*)")


def _bracket_only(line: str) -> bool:
    return not re.search(r"\w", line)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _definition(line: str) -> tuple[str, str] | None:
    found = _DEF.match(line)
    if found:
        return found["kind"], found["name"]
    impl = _IMPL.match(line)
    return ("impl", loose(impl["rest"])) if impl else None


def _definitions(lines: Sequence[str]) -> set[tuple[str, str]]:
    return {d for d in map(_definition, lines) if d is not None}


def _added(new: list[str], old_definitions: set[tuple[str, str]]) -> set[int]:
    """Indexes of new lines that belong to definitions the old text did not have: attributes, head and body."""
    out: set[int] = set()
    for i, line in enumerate(new):
        found = _definition(line)
        if found is None or found in old_definitions:
            continue
        first = i
        while first > 0 and _ATTRIBUTE.match(new[first - 1]):
            first -= 1
        last = i + 1
        while last < len(new) and (not new[last].strip() or _indent(new[last]) > _indent(line)):
            last += 1
        if last < len(new) and _bracket_only(new[last]) and _indent(new[last]) == _indent(line):
            last += 1
        out.update(range(first, last))
    return out


def _regions(old: list[str], new: list[str]) -> list[tuple[list[int], list[int]]]:
    """Changed regions as (old line indexes, new line indexes), joined across unchanged blank or bracket-only runs."""
    matcher = difflib.SequenceMatcher(None, [loose(t) for t in old], [loose(t) for t in new], autojunk=False)
    regions: list[tuple[list[int], list[int]]] = []
    bridge: tuple[range, range] | None = None  # an unchanged run that may join two changes
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            joins = bool(regions) and bridge is not None and all(_bracket_only(t) for t in old[i1:i2])
            bridge = (range(i1, i2), range(j1, j2)) if joins else None
            continue
        if bridge is None:
            regions.append(([], []))
        else:
            regions[-1][0].extend(bridge[0])
            regions[-1][1].extend(bridge[1])
        regions[-1][0].extend(range(i1, i2))
        regions[-1][1].extend(range(j1, j2))
        bridge = (range(0), range(0))
    return regions


def _similar(one: str, two: str) -> bool:
    """Whether `two` reads as `one` edited: similar text, or most of the shorter line's words (two at least) shared."""
    words, other = set(_WORD.findall(one)), set(_WORD.findall(two))
    shared = len(words & other)
    if shared >= 2 and shared >= SHARED * min(len(words), len(other)):
        return True
    return difflib.SequenceMatcher(None, loose(one), loose(two), autojunk=False).ratio() >= SIMILAR


class _Reader:
    """Lines read in one file's language: comments, placeholders and code."""

    def __init__(self, comment: Callable[[str], bool]) -> None:
        self.comment = comment

    def placeholder(self, line: str) -> bool:
        """A line that can stand for elided code: a comment that is not a doc comment, or a bare ellipsis."""
        if _ELLIPSIS.match(line):
            return True
        return self.comment(line) and (not _DOC.match(line) or "..." in line or "…" in line)

    def code(self, line: str) -> bool:
        return bool(line.strip()) and not self.comment(line) and not _bracket_only(line)

    def uncommented(self, line: str) -> str:
        """A comment line's text without its marker, as a whitespace-folded key."""
        return loose(_MARKER.sub("", line, count=1))


def excerpt_reason(old: Sequence[str], new: Sequence[str], path: str, *, whole_only: bool = False) -> str | None:
    """Why `new` (lines) is an excerpt of `old` rather than the new whole text of the file at `path`, or None.

    `whole_only` skips the share-kept rule, for carriers that declare a replacement (`<code_file>`).
    """
    old, new = list(old), list(new)
    read = _Reader(comment_test(path))
    old_keys, new_keys = {loose(t) for t in old}, {loose(t) for t in new}
    old_definitions = _definitions(old)
    added = _added(new, old_definitions)
    new_definitions = _definitions(new)
    for before, after in _regions(old, new):
        stands = [new[j] for j in after if read.placeholder(new[j]) and {loose(new[j]), read.uncommented(new[j])}.isdisjoint(old_keys)]
        if not stands:
            continue
        kept = {read.uncommented(new[j]) for j in after if read.comment(new[j])}
        written = [new[j] for j in after if j not in added and read.code(new[j]) and loose(new[j]) not in old_keys]
        gone = [
            old[i] for i in before
            if read.code(old[i]) and not {loose(old[i])} & (new_keys | kept) and not any(_similar(old[i], w) for w in written)
        ]  # fmt: skip
        if gone:
            return f"{stands[0].strip()[:80]!r} stands where {len(gone)} line(s) of code were"
        lost = sorted(f"{kind} {name}" for kind, name in _definitions([old[i] for i in before]) - new_definitions)
        if lost:
            return f"{stands[0].strip()[:80]!r} stands where {', '.join(lost[:3])} {'was' if len(lost) == 1 else 'were'}"
    if whole_only:
        return None
    had = Counter(k for k in map(loose, old) if k)
    if sum(had.values()) < EXCERPT_MIN_LINES:
        return None
    kept_lines = sum((had & Counter(k for k in map(loose, new) if k)).values())
    if kept_lines < EXCERPT_KEPT * sum(had.values()):
        return f"it keeps only {kept_lines} of the file's {sum(had.values())} non-blank lines"
    return None
