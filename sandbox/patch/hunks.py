"""Placing hunks in a file: exactly, or not at all.

The placement rule:

1. A hunk's "old block" (its context and removed lines, in order) must occur in the file as
   consecutive lines. Header line numbers are never needed to find a place.
2. Exact matches are looked for first. Only when there is none is the old block compared
   whitespace-tolerantly (runs of blanks collapsed, ends stripped, so stripped trailing spaces,
   tabs turned into spaces and U+00A0 no-break spaces still match).
3. One match at that level: the hunk goes there. Several: the header's old-start line, shifted
   by the drift of the previous hunk (where it was found minus where its header said), picks the
   candidate that starts on that line; else, while the hunks read in file order (as a unified
   diff's do), the one match after the previous hunk; otherwise the hunk is refused as ambiguous.
   A hunk with no match after the previous hunk may stand before it (hunks out of file order),
   and from then on only a unique match or the line number places a hunk. A tolerant match is
   never used to break an exact tie.
4. Hunks may share lines that both keep as context (each written with its own few lines of
   context); a line that one hunk removes or that sits between lines the other keeps together
   (an insertion there) cannot be shared, and such hunks are refused.
5. A hunk whose old block is not found but whose new block (context and added lines) is, or
   whose longer new block already stands where the old one matches (an append that would go in
   twice), is refused as already applied.
6. A hunk with no '+' or '-' lines changes nothing; it is skipped when it matches the file and
   refused when it does not. A hunk with no context and no removed lines is placed only in an
   empty file.
7. Context lines keep the file's own text (its whitespace and line ending). Added lines get the
   file's dominant line ending; where the hunk matched only whitespace-tolerantly they also take
   the file's indentation style (see `restyle`). The final-newline state of the file is kept
   unless a hunk that reaches the end says otherwise (`\\ No newline at end of file`).

A refusal carries the hunk's text and the closest place found (line numbers and the lines there).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sandbox.errors import PatchRefused
from sandbox.patch.edits import Hunk, Kind
from sandbox.patch.indent import kinds, restyle
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


@dataclass(frozen=True)
class _Spot:
    """A hunk placed at `pos` (0-based) under a view; `number` is its place in the edit (1-based)."""

    number: int
    pos: int
    hunk: Hunk
    tolerant: bool

    @property
    def end(self) -> int:
        return self.pos + len(self.hunk.old)


def place_hunks(lines: Lines, hunks: Sequence[Hunk], path: str) -> Lines:
    """Apply `hunks` to `lines`, or raise PatchRefused naming the first that cannot be placed."""
    views = (_View.of("exact", _same, lines.texts), _View.of("whitespace-tolerant", loose, lines.texts))
    spots: list[_Spot] = []
    lo = drift = 0
    in_order = True
    previous_start: int | None = None
    for number, hunk in enumerate(hunks, 1):
        ctx = _Context(path, number, lines)
        if not hunk.changes:
            expected = None if hunk.old_start is None else max(hunk.old_start - 1, 0) + drift
            anchor = _anchor(views, hunk, lo if in_order else None, expected, ctx)
            if anchor is not None and hunk.old_start is not None:
                drift, previous_start = anchor - max(hunk.old_start - 1, 0), hunk.old_start
            lo = max(lo, anchor + len(hunk.old)) if anchor is not None else lo
            continue
        if hunk.old_start is not None and previous_start is not None and hunk.old_start < previous_start:
            in_order = False  # the header says this hunk comes before the previous one
        expected = None if hunk.old_start is None else max(hunk.old_start - 1, 0) + drift
        pos, view = _locate(views, hunk, lo if in_order else None, expected, ctx)
        if pos < lo:
            in_order = False
        if hunk.old_start is not None:
            drift = pos - max(hunk.old_start - 1, 0)
            previous_start = hunk.old_start
        spots.append(_Spot(number, pos, hunk, view is views[1]))
        lo = max(lo, pos + len(hunk.old))
    if not spots:
        raise _Context(path, 1, lines).refuse("changes nothing (no hunk has '+' or '-' lines)", hunks[0])
    return _splice(lines, spots, path)


def _anchor(views: tuple[_View, _View], hunk: Hunk, lo: int | None, expected: int | None, ctx: _Context) -> int | None:
    """Where a hunk without changes stands, when one place is its: an anchor the writer added, which changes
    nothing but tells where the next hunks are. One that matches nowhere is a sign of the wrong file."""
    old = hunk.old
    for view in views:
        found = view.find(old, 0) if old else []
        after = [p for p in found if lo is not None and p >= lo]
        if len(found) == 1:
            return found[0]
        if expected in found:
            return expected
        if len(after) == 1:
            return after[0]
        if found:
            return None
    if old:
        raise ctx.refuse("changes nothing (it has no '+' or '-' lines) and does not match the file", hunk, _closest(views[1], old, None, ctx))
    return None


def _locate(views: tuple[_View, _View], hunk: Hunk, lo: int | None, expected: int | None, ctx: _Context) -> tuple[int, _View]:
    """Where the hunk's old block goes; `lo` is the end of the previous hunk while the hunks read in file order."""
    old, new = hunk.old, hunk.new
    if not old:
        if views[0].keys:
            raise ctx.refuse("has no context or removed lines to place it by", hunk)
        return 0, views[0]
    for view in views:
        found = view.find(old, 0)
        if not found:
            continue
        after = [p for p in found if lo is not None and p >= lo]
        if len(found) == 1:
            pos = found[0]
        elif expected in found:
            pos = expected
        elif len(after) == 1:
            pos = after[0]
        else:
            raise ctx.refuse(_ambiguity(view, found, hunk), hunk, "\n".join(_candidates(ctx, found)))
        if len(new) > len(old) and view.holds(new, pos):
            raise ctx.refuse(f"is already applied: its new lines are already at line {pos + 1}", hunk, already_applied=True)
        return pos, view
    for view in views:
        done = view.find(new, 0) if new else []
        if done:
            raise ctx.refuse(f"is already applied: its new lines are at line {done[0] + 1} and its old lines are gone", hunk, already_applied=True)
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


@dataclass
class _Merge:
    """Every placed hunk's claims on the file: lines kept or removed, and lines added before a line."""

    path: str
    lines: Lines
    owner: dict[int, tuple[Kind, _Spot]]
    added: dict[int, tuple[_Spot, list[str]]]

    def claim(self, at: int, kind: Kind, spot: _Spot) -> None:
        held = self.owner.get(at)
        if held is not None and (held[0] != " " or kind != " "):
            raise self._clash(held[1], spot, f"both claim line {at + 1} and one of them changes it")
        self.owner[at] = (kind, spot)

    def add(self, gap: int, text: str, spot: _Spot) -> None:
        held = self.added.setdefault(gap, (spot, []))
        if held[0] is not spot:
            raise self._clash(held[0], spot, f"both add lines before line {gap + 1}, in no stated order")
        held[1].append(text)

    def check_gaps(self, spots: list[_Spot]) -> None:
        """Lines one hunk adds must not fall between two lines another hunk keeps together."""
        for gap, (spot, _) in self.added.items():
            for other in spots:
                if other is not spot and other.pos < gap < other.end:
                    raise self._clash(other, spot, f"overlap: hunk {spot.number} adds lines inside hunk {other.number}, before line {gap + 1}")

    def _clash(self, one: _Spot, two: _Spot, why: str) -> PatchRefused:
        first, second = sorted((one, two), key=lambda s: s.number)
        ctx = _Context(self.path, second.number, self.lines)
        return ctx.refuse(f"overlaps hunk {first.number}: {why}", second.hunk, "\n".join(ctx.show(second.pos, SHOWN_LINES)))


def _splice(lines: Lines, spots: list[_Spot], path: str) -> Lines:
    merge = _Merge(path, lines, {}, {})
    final_newline = lines.final_newline
    texts, eols = lines.texts, lines.eols
    used = kinds(texts)
    for spot in sorted(spots, key=lambda s: (s.pos, s.number)):
        hunk = spot.hunk
        style = restyle([(t, texts[spot.pos + j]) for j, t in enumerate(hunk.old)], used, spot.tolerant)
        at = spot.pos
        for kind, text in hunk.lines:
            if kind == "+":
                merge.add(at, style(text), spot)
            else:
                merge.claim(at, kind, spot)
                at += 1
        if at == len(texts):
            if hunk.new_no_eol:
                final_newline = False
            elif hunk.old_no_eol:
                final_newline = True
    merge.check_gaps(spots)
    out: list[tuple[str, str | None]] = []
    for i in range(len(texts) + 1):
        if i in merge.added:
            out += [(t, None) for t in merge.added[i][1]]
        if i < len(texts) and merge.owner.get(i, (" ",))[0] != "-":
            out.append((texts[i], eols[i]))
    return lines.rebuilt(out, final_newline)
