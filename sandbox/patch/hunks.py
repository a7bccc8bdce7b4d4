"""Placing hunks in a file: exactly, or not at all.

The placement rule:

1. A hunk's "old block" (its context and removed lines, in order) must occur in the file as
   consecutive lines, at or after the end of the previous hunk of the same edit (hunks apply
   in order and never overlap). Header line numbers are never needed to find a place.
2. Exact matches are looked for first. Only when there is none is the old block compared
   whitespace-tolerantly (runs of spaces and tabs collapsed, ends stripped, so stripped
   trailing spaces and tabs turned into spaces still match).
3. One match at that level: the hunk goes there. Several: the header's old-start line,
   shifted by the drift of the previous hunk (where it was found minus where its header said),
   picks the candidate only when exactly one candidate starts on that line; otherwise the hunk
   is refused as ambiguous. A tolerant match is never used to break an exact tie.
4. A hunk whose old block is not found but whose new block (context and added lines) is, or
   whose longer new block already stands where the old one matches (an append that would go in
   twice), is refused as already applied.
5. A hunk with no context and no removed lines is placed only in an empty file.
6. Context lines keep the file's own text (its whitespace and line ending); added lines are
   written as given, with the file's dominant line ending. The final-newline state of the file
   is kept unless a hunk that reaches the end says otherwise (`\\ No newline at end of file`).

A refusal carries the hunk's text and the closest place found (line numbers and the lines there).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sandbox.errors import PatchRefused
from sandbox.patch.edits import Hunk, Kind
from sandbox.patch.text import Lines, loose

SHOWN_LINES = 8


def _same(line: str) -> str:
    return line


@dataclass(frozen=True)
class _View:
    """The file's lines under one comparison: their keys and where each key occurs."""

    name: str
    key: Callable[[str], str]
    keys: tuple[str, ...]
    index: dict[str, list[int]]

    @classmethod
    def of(cls, name: str, key: Callable[[str], str], texts: Sequence[str]) -> _View:
        keys = tuple(key(t) for t in texts)
        index: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            index.setdefault(k, []).append(i)
        return cls(name, key, keys, index)

    def find(self, block: Sequence[str], lo: int) -> list[int]:
        """Start lines (0-based, ascending) at or after `lo` where `block` occurs."""
        wanted = [self.key(t) for t in block]
        anchor = min(range(len(wanted)), key=lambda j: len(self.index.get(wanted[j], ())))
        starts = (q - anchor for q in self.index.get(wanted[anchor], ()))
        return [p for p in starts if p >= lo and self.at(wanted, p)]

    def at(self, wanted: Sequence[str], p: int) -> bool:
        return p >= 0 and p + len(wanted) <= len(self.keys) and all(self.keys[p + j] == w for j, w in enumerate(wanted))

    def holds(self, block: Sequence[str], p: int) -> bool:
        return self.at([self.key(t) for t in block], p)


@dataclass(frozen=True)
class _Context:
    """What a refusal needs to name: the file, the hunk's number, the file's lines."""

    path: str
    number: int
    lines: Lines

    def refuse(self, why: str, hunk: Hunk, closest: str | None = None, already_applied: bool = False) -> PatchRefused:
        return PatchRefused(f"hunk {self.number} of {self.path} {why}", hunk=hunk.text(), closest=closest, already_applied=already_applied)

    def show(self, first: int, count: int) -> list[str]:
        texts = self.lines.texts
        return [f"{i + 1:5} | {texts[i]}" for i in range(max(first, 0), min(first + count, len(texts)))]


def replacement_hunk(search: Sequence[str], replace: Sequence[str]) -> Hunk:
    """A SEARCH/REPLACE pair as a hunk: lines both sides share become context, so they keep the file's text."""
    lines: list[tuple[Kind, str]] = []
    matcher = difflib.SequenceMatcher(None, list(search), list(replace), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            lines += [(" ", t) for t in search[i1:i2]]
        else:
            lines += [("-", t) for t in search[i1:i2]] + [("+", t) for t in replace[j1:j2]]
    return Hunk(tuple(lines), header="SEARCH/REPLACE")


def place_hunks(lines: Lines, hunks: Sequence[Hunk], path: str) -> Lines:
    """Apply `hunks` (in order) to `lines`, or raise PatchRefused naming the first that cannot be placed."""
    views = (_View.of("exact", _same, lines.texts), _View.of("whitespace-tolerant", loose, lines.texts))
    spots: list[tuple[int, Hunk]] = []
    lo = drift = 0
    for number, hunk in enumerate(hunks, 1):
        ctx = _Context(path, number, lines)
        if not hunk.changes:
            raise ctx.refuse("changes nothing (it has no '+' or '-' lines)", hunk)
        expected = None if hunk.old_start is None else max(hunk.old_start - 1, 0) + drift
        pos = _locate(views, hunk, lo, expected, ctx)
        if hunk.old_start is not None:
            drift = pos - max(hunk.old_start - 1, 0)
        spots.append((pos, hunk))
        lo = pos + len(hunk.old)
    return _splice(lines, spots)


def _locate(views: tuple[_View, _View], hunk: Hunk, lo: int, expected: int | None, ctx: _Context) -> int:
    old, new = hunk.old, hunk.new
    if not old:
        if views[0].keys:
            raise ctx.refuse("has no context or removed lines to place it by", hunk)
        return 0
    for view in views:
        found = view.find(old, lo)
        if not found:
            continue
        if len(found) == 1:
            pos = found[0]
        elif expected in found:
            pos = expected
        else:
            raise ctx.refuse(_ambiguity(view, found, hunk), hunk, "\n".join(_candidates(ctx, found)))
        if len(new) > len(old) and view.holds(new, pos):
            raise ctx.refuse(f"is already applied: its new lines are already at line {pos + 1}", hunk, already_applied=True)
        return pos
    for view in views:
        done = view.find(new, 0) if new else []
        if done:
            raise ctx.refuse(f"is already applied: its new lines are at line {done[0] + 1} and its old lines are gone", hunk, already_applied=True)
    earlier = views[1].find(old, 0)
    if earlier:
        why = f"matches only at line {earlier[0] + 1}, before the end of the previous hunk: hunks must be in file order without overlap"
        raise ctx.refuse(why, hunk)
    raise ctx.refuse("does not match the file", hunk, _closest(views[1], old, expected, ctx))


def _ambiguity(view: _View, found: list[int], hunk: Hunk) -> str:
    where = ", ".join(str(p + 1) for p in found[:10]) + (", …" if len(found) > 10 else "")
    reason = "it has no line number to pick one" if hunk.old_start is None else "its line number does not pick one"
    return f"matches {len(found)} places ({view.name}, starting at lines {where}); {reason}"


def _candidates(ctx: _Context, found: list[int]) -> list[str]:
    return [line for p in found[:5] for line in ctx.show(p, 1)]


def _closest(view: _View, old: list[str], expected: int | None, ctx: _Context) -> str | None:
    """The start line where most of the old block's lines line up, with what the file has there."""
    votes: Counter[int] = Counter()
    wanted = [view.key(t) for t in old]
    for j, key in enumerate(wanted):
        for q in view.index.get(key, ()):
            votes[q - j] += 1
    if not votes:
        return None
    target = expected if expected is not None else 0
    start, score = max(votes.items(), key=lambda kv: (kv[1], -abs(kv[0] - target)))
    first = max(start, 0)
    last = min(start + len(old), len(view.keys)) - 1
    head = f"lines {first + 1}-{last + 1} of {ctx.path} match {score} of the hunk's {len(old)} context and removed lines"
    diff = next((j for j, w in enumerate(wanted) if not (0 <= start + j < len(view.keys)) or view.keys[start + j] != w), None)
    out = [head]
    if diff is not None:
        at = start + diff
        found = ctx.lines.texts[at] if 0 <= at < len(ctx.lines.texts) else "(end of file)"
        out += [f"first difference at line {at + 1}:", f"  hunk expects: {old[diff]}", f"  file has:     {found}"]
    return "\n".join(out + ctx.show(first, SHOWN_LINES))


def _splice(lines: Lines, spots: list[tuple[int, Hunk]]) -> Lines:
    out: list[tuple[str, str | None]] = []
    cursor = 0
    final_newline = lines.final_newline
    texts, eols = lines.texts, lines.eols
    for pos, hunk in spots:
        out.extend(zip(texts[cursor:pos], eols[cursor:pos], strict=True))
        at = pos
        for kind, text in hunk.lines:
            if kind == " ":
                out.append((texts[at], eols[at]))
            elif kind == "+":
                out.append((text, None))
            at += kind != "+"
        cursor = at
        if at == len(texts):
            if hunk.new_no_eol:
                final_newline = False
            elif hunk.old_no_eol:
                final_newline = True
    out.extend(zip(texts[cursor:], eols[cursor:], strict=True))
    return lines.rebuilt(out, final_newline)
