"""Whole files that are really excerpts, told by what writing them would do to the file.

An LLM asked for a whole file often elides unchanged code with a placeholder: a comment or a
bare `...` standing where the code was. Writing such a "whole file" deletes that code. Phrases
vary without end, so the placeholder is found by its effect. The old and new texts are aligned
and cut into changed regions (joined across unchanged runs of blank, bracket-only or comment
lines). In a region where a new comment or `...` line stands (not old code commented out), the
old code lines that are gone count: not in the region's new text, not commented out there, and
not edited into a line written there (similar text or most words shared; one old line per new
line). Lines of definitions the new text adds (a new `fn` with its attributes and body) are
additions, never what replaced old code. The region is an elision when code is gone and

- more lines are gone than were written in the region (a rewrite puts code where code was), or
- the placeholder sits where the code was: both its nearest non-blank neighbours are unchanged
  lines, or it stands alone (a blank line, a bracket or the block's start on each side), not
  attached to code it could describe;

and also when definitions the region had (`fn`, `struct`, `impl …`, `def`, `class`, …) are
nowhere in the new file. A file that keeps less than half of a long file's lines is refused too:
too much is missing to tell an excerpt from a rewrite. Comments are told by the file's language
(`//` in Rust, `#` in TOML, `<!--` in Markdown).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sandbox.patch.labels import comment_test
from sandbox.patch.text import loose

EXCERPT_MIN_LINES = 20
EXCERPT_KEPT = 0.5
SIMILAR = 0.6  # difflib ratio above which an old line counts as edited into a new one
SHARED = 0.5  # or the share of the shorter line's words both lines have
_WORD = re.compile(r"\w+")

_ELLIPSIS = re.compile(r"^\s*(?:\.{3,}|…)\s*$")
_STANDS_FOR = re.compile(r"\.\.\.|…|\b(unchanged|as before|omitted|elided|rest of|stays? as (it is|they are))\b", re.IGNORECASE)
"""A comment that says it stands for code: what a whole file adding only it cannot mean as a change."""
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


@dataclass
class _Alignment:
    """Changed regions as (old line indexes, new line indexes), and the new lines that stand unchanged."""

    regions: list[tuple[list[int], list[int]]]
    unchanged: set[int]


def _align(old: list[str], new: list[str], quiet: Callable[[str], bool]) -> _Alignment:
    """Align old and new lines; changes separated only by `quiet` unchanged lines form one region."""
    matcher = difflib.SequenceMatcher(None, [loose(t) for t in old], [loose(t) for t in new], autojunk=False)
    out = _Alignment([], set())
    bridge: tuple[range, range] | None = None  # an unchanged run that may join two changes
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.unchanged.update(range(j1, j2))
            joins = bool(out.regions) and bridge is not None and all(quiet(t) for t in old[i1:i2])
            bridge = (range(i1, i2), range(j1, j2)) if joins else None
            continue
        if bridge is None:
            out.regions.append(([], []))
        else:
            out.regions[-1][0].extend(bridge[0])
            out.regions[-1][1].extend(bridge[1])
        out.regions[-1][0].extend(range(i1, i2))
        out.regions[-1][1].extend(range(j1, j2))
        bridge = (range(0), range(0))
    return out


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

    def quiet(self, line: str) -> bool:
        """A line that joins changes around it into one region: blank, brackets only, or a comment."""
        return _bracket_only(line) or self.comment(line)

    def uncommented(self, line: str) -> str:
        """A comment line's text without its marker, as a whitespace-folded key."""
        return loose(_MARKER.sub("", line, count=1))


def _gone(old: list[str], before: list[int], written: list[str], kept: set[str], read: _Reader) -> list[str]:
    """The region's old code lines that nothing in its new text keeps, comments out or edits (one old line per new one)."""
    free = list(written)
    gone = []
    for line in (old[i] for i in before):
        if not read.code(line) or loose(line) in kept:
            continue
        partner = next((k for k, new in enumerate(free) if _similar(line, new)), None)
        if partner is None:
            gone.append(line)
        else:
            free.pop(partner)
    return gone


def _in_place(new: list[str], at: int, unchanged: set[int]) -> bool:
    """Whether the line at `at` sits where old code was: between unchanged lines, or alone, attached to no code."""
    sides = []
    for step in (-1, 1):
        j = at + step
        while 0 <= j < len(new) and not new[j].strip():
            j += step
        sides.append(not 0 <= j < len(new) or j in unchanged)
    if all(sides):
        return True
    before = new[at - 1] if at > 0 else ""
    after = new[at + 1] if at + 1 < len(new) else ""
    return _bracket_only(after) and (_bracket_only(before) or before.rstrip().endswith(("{", "(", "[")))


def excerpt_reason(old: Sequence[str], new: Sequence[str], path: str, *, whole_only: bool = False) -> str | None:
    """Why `new` (lines) is an excerpt of `old` rather than the new whole text of the file at `path`, or None.

    `whole_only` skips the share-kept rule, for carriers that declare a replacement (`<code_file>`).
    """
    old, new = list(old), list(new)
    read = _Reader(comment_test(path))
    old_keys = {loose(t) for t in old}
    added = _added(new, _definitions(old))
    new_definitions = _definitions(new)
    alignment = _align(old, new, read.quiet)
    standing: list[int] = []
    for before, after in alignment.regions:
        stands = [j for j in after if read.placeholder(new[j]) and {loose(new[j]), read.uncommented(new[j])}.isdisjoint(old_keys)]
        standing += stands
        if not stands:
            continue
        shown = new[stands[0]].strip()[:80]
        kept = {read.uncommented(new[j]) for j in after if read.comment(new[j])} | {loose(new[j]) for j in after}
        written = [new[j] for j in after if j not in added and read.code(new[j]) and not read.placeholder(new[j])]
        gone = _gone(old, before, written, kept, read)
        if gone and (len(gone) > len(written) or any(_in_place(new, j, alignment.unchanged) for j in stands)):
            return f"{shown!r} stands where {len(gone)} line(s) of code were"
        lost = sorted(f"{kind} {name}" for kind, name in _definitions([old[i] for i in before]) - new_definitions)
        if lost:
            return f"{shown!r} stands where {', '.join(lost[:3])} {'was' if len(lost) == 1 else 'were'}"
    says = [j for j in standing if _STANDS_FOR.search(new[j])]
    if says and [k for j, k in enumerate(map(loose, new)) if k and j not in says] == [k for k in map(loose, old) if k]:
        return f"{new[says[0]].strip()[:80]!r} is all it adds to the file: an elision, not a change"
    if whole_only:
        return None
    had = Counter(k for k in map(loose, old) if k)
    if sum(had.values()) < EXCERPT_MIN_LINES:
        return None
    kept_lines = sum((had & Counter(k for k in map(loose, new) if k)).values())
    if kept_lines < EXCERPT_KEPT * sum(had.values()):
        return f"it keeps only {kept_lines} of the file's {sum(had.values())} non-blank lines"
    return None
