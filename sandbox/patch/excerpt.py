"""Whole files that are really excerpts, told by what writing them would do to the file.

An LLM asked for a whole file often elides unchanged code with a placeholder: a comment or a
bare `...` standing where the code was. Writing such a "whole file" deletes that code. Phrases
vary without end, so the placeholder is found by its effect: the old and new texts are compared
region by region (changed runs of lines, joined across unchanged runs of blank or bracket-only
lines), and a region is an elision when a new comment or `...` line (not the old code commented
out) stands where code was removed (not commented out either):

- between the old lines that its nearest new neighbours correspond to (the same line, or one
  edited into it: similar text, in order) lie old code lines that nothing in the new text
  corresponds to, more than twice as many as the new code lines written between those
  neighbours (a rewrite puts code where code was; an elision puts a comment); or
- definitions the old region had (`fn`, `struct`, `impl …`, `def`, `class`, …) are nowhere in the new file.

A file that keeps less than half of a long file's lines is refused too: too much is missing to
tell an excerpt from a rewrite.

Comments are told by the file's language (`//` in Rust, `#` in TOML, `<!--` in Markdown).
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
MAX_CELLS = 40_000  # the largest region (old lines × new lines) paired exactly
_WORD = re.compile(r"\w+")

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


def _similar(one: str, two: str) -> bool:
    """Whether `two` reads as `one` edited: similar text, or most of the shorter line's words (two at least) shared."""
    if _bracket_only(one):
        return False
    words, other = set(_WORD.findall(one)), set(_WORD.findall(two))
    shared = len(words & other)
    if shared >= 2 and shared >= SHARED * min(len(words), len(other)):
        return True
    return difflib.SequenceMatcher(None, loose(one), loose(two), autojunk=False).ratio() >= SIMILAR


class _Reader:
    """Lines read in one file's language: comments, placeholders, code, and which old line a new one continues."""

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

    def counterparts(self, before: list[str], after: list[str]) -> list[int | None]:
        """For each new line, the old line it corresponds to, None for new ones: the in-order pairing of most weight
        (the same text weighs most, a blank line little, an edited line by its likeness), or, past MAX_CELLS, the
        first same-or-similar line in order."""
        if len(before) * len(after) > MAX_CELLS:
            return self._greedy(before, after)
        weights = [[self._weight(old, new) for new in after] for old in before]
        best = [[0.0] * (len(after) + 1) for _ in range(len(before) + 1)]
        for i in range(1, len(before) + 1):
            for j in range(1, len(after) + 1):
                w = weights[i - 1][j - 1]
                best[i][j] = max(best[i - 1][j], best[i][j - 1], best[i - 1][j - 1] + w if w else 0.0)
        out: list[int | None] = [None] * len(after)
        i, j = len(before), len(after)
        while i and j:
            w = weights[i - 1][j - 1]
            if w and best[i][j] == best[i - 1][j - 1] + w:
                out[j - 1] = i - 1
                i, j = i - 1, j - 1
            elif best[i][j] == best[i - 1][j]:
                i -= 1
            else:
                j -= 1
        return out

    def _weight(self, old: str, new: str) -> float:
        if self.placeholder(new):
            return 0.0
        if loose(old) == loose(new):
            return 1.0 if loose(new) else 0.25
        return 0.5 if loose(new) and _similar(old, new) else 0.0

    def _greedy(self, before: list[str], after: list[str]) -> list[int | None]:
        out: list[int | None] = []
        at = 0
        for line in after:
            key = loose(line)
            found = None
            if key and not self.placeholder(line):
                found = next((i for i in range(at, len(before)) if loose(before[i]) == key), None)
                if found is None:
                    found = next((i for i in range(at, len(before)) if _similar(before[i], line)), None)
            out.append(found)
            if found is not None:
                at = found + 1
        return out

    def stood_for(self, before: list[str], after: list[str], index: int) -> tuple[list[str], list[str]]:
        """Around a new line at `index`, between its nearest new neighbours that have an old counterpart: the old
        lines nothing corresponds to, and the other new lines that have none (written there instead)."""
        pairs = self.counterparts(before, after)
        left = next((j for j in range(index - 1, -1, -1) if pairs[j] is not None), -1)
        right = next((j for j in range(index + 1, len(after)) if pairs[j] is not None), len(after))
        low = pairs[left] if left >= 0 else -1
        high = pairs[right] if right < len(after) else len(before)
        taken = {p for p in pairs if p is not None}
        gone = [before[i] for i in range(low + 1, high) if i not in taken]  # type: ignore[operator]
        written = [after[j] for j in range(left + 1, right) if j != index and not self.placeholder(after[j])]
        return gone, written


def excerpt_reason(old: Sequence[str], new: Sequence[str], path: str, *, whole_only: bool = False) -> str | None:
    """Why `new` (lines) is an excerpt of `old` rather than the new whole text of the file at `path`, or None.

    `whole_only` skips the share-kept rule, for carriers that declare a replacement (`<code_file>`).
    """
    old, new = list(old), list(new)
    read = _Reader(comment_test(path))
    old_keys = {loose(t) for t in old}
    new_defs = _definitions(new)
    for before, after in _regions(old, new):
        stands = [t for t in after if read.placeholder(t) and loose(t) not in old_keys and read.uncommented(t) not in old_keys]
        kept = {read.uncommented(t) for t in after if read.comment(t)}
        if not stands or not any(read.code(t) and loose(t) not in kept for t in before):
            continue
        for index, line in enumerate(after):
            if line in stands:
                gone, written = read.stood_for(before, after, index)
                gone = [t for t in gone if read.code(t) and loose(t) not in kept]
                if len(gone) > 2 * sum(map(read.code, written)):
                    return f"{line.strip()[:80]!r} stands where {len(gone)} line(s) of code were"
        lost = sorted(f"{kind} {name}" for kind, name in _definitions(before) - new_defs)
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
