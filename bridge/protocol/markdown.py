"""Just enough markdown structure for commands and posts: fenced blocks and inline code spans.

`strict` follows CommonMark for top-level fences (indent up to 3 columns, no containers), which
is how a chat UI renders MCP's posts. The lenient mode, used to find commands, also sees fences
indented further, inside list items and inside block quotes, so `@agent` in any code never fires.
Only lines that can matter are visited in Python (found by one regex pass), so a multi-megabyte
text costs little more than its split.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from enum import IntEnum

from bridge.models import CodeBlock

LIST_MARKER = re.compile(r"(?:[-*+]|\d{1,9}[.)])[ \t]+")
BACKTICKS = re.compile(r"`+")
# Lines that can open, close or contain a fence: fence-like, list-item fences, quotes.
LENIENT_LINES = re.compile(r"^[ \t]*(?:>|(?:[-*+]|\d{1,9}[.)])[ \t]+(?:```|~~~)|```|~~~)", re.MULTILINE)
STRICT_LINES = re.compile(r"^ {0,3}(?:```|~~~)", re.MULTILINE)
TAB = 4
STRICT_INDENT = 3


class Kind(IntEnum):
    """What a line is: ordinary text, or a fenced block's opener, body or closer."""

    PLAIN = 0
    OPEN = 1
    BODY = 2
    CLOSE = 3


@dataclass(frozen=True, slots=True)
class Opener:
    """A fence opener line's parts."""

    char: str
    length: int
    info: str
    column: int


@dataclass(frozen=True, slots=True)
class Fence:
    """A fenced code block: lines [start, stop) are the opener and body; `closer` is None when unclosed."""

    start: int
    stop: int
    closer: int | None
    opener: Opener
    quoted: bool

    def body(self, lines: list[str]) -> str:
        """The block's own text, as CommonMark gives it: quote markers and the fence's indent removed."""
        out = []
        for line in lines[self.start + 1 : self.stop]:
            if self.quoted:
                line = unquote(line)[1]
            out.append(dedent(line, self.opener.column))
        return "\n".join(out)


@dataclass(frozen=True, slots=True)
class Layout:
    """A text cut into lines, each line's kind, and the fenced blocks in order."""

    lines: list[str]
    kinds: bytearray
    fences: list[Fence]
    starts: list[int] = field(repr=False)  # each fence's opener line, for bisecting

    def fences_between(self, first: int, last: int) -> range:
        """Indexes of the fences whose opener lies in lines [first, last)."""
        return range(bisect.bisect_left(self.starts, first), bisect.bisect_left(self.starts, last))


def columns(prefix: str) -> int:
    """Width of leading whitespace with tab stops of 4."""
    width = 0
    for ch in prefix:
        width = width + TAB - width % TAB if ch == "\t" else width + 1
    return width


def dedent(line: str, width: int) -> str:
    """Drop up to `width` columns of leading spaces and tabs."""
    used = 0
    for i, ch in enumerate(line):
        if used >= width or ch not in " \t":
            return line[i:]
        used = used + TAB - used % TAB if ch == "\t" else used + 1
    return ""


def unquote(line: str) -> tuple[bool, str]:
    """Whether the line is in a block quote, and the line without its `>` markers."""
    rest = line.lstrip(" \t")
    if not rest.startswith(">"):
        return False, line
    while rest.startswith(">"):
        rest = rest[1:]
        rest = rest[1:] if rest.startswith(" ") else rest
        stripped = rest.lstrip(" \t")
        if not stripped.startswith(">"):
            break
        rest = stripped
    return True, rest


def opener(line: str, strict: bool) -> Opener | None:
    """The fence a line opens, if it is a fence opener."""
    rest = line.lstrip(" \t")
    column = columns(line[: len(line) - len(rest)])
    if not strict:
        marker = LIST_MARKER.match(rest)
        if marker and rest[marker.end() : marker.end() + 1] in ("`", "~"):
            column += marker.end()
            rest = rest[marker.end() :]
    elif column > STRICT_INDENT:
        return None
    if rest[:3] not in ("```", "~~~"):
        return None
    char = rest[0]
    length = len(rest) - len(rest.lstrip(char))
    info = rest[length:].strip(" \t\r")
    if char == "`" and "`" in info:
        return None
    return Opener(char=char, length=length, info=info, column=column)


def closes(line: str, fence: Opener) -> bool:
    """Whether a line closes the fence (in strict mode only lines indented up to 3 columns get here)."""
    rest = line.lstrip(" \t")
    if not rest.startswith(fence.char * fence.length):
        return False
    return not rest.lstrip(fence.char).strip(" \t\r")


def line_numbers(text: str, pattern: re.Pattern[str]) -> list[int]:
    """The numbers of the lines where a `^`-anchored multiline pattern matches."""
    out: list[int] = []
    line = pos = 0
    for match in pattern.finditer(text):
        line += text.count("\n", pos, match.start())
        pos = match.start()
        out.append(line)
    return out


def scan(text: str, *, strict: bool = False) -> Layout:
    """Cut `text` on "\\n" and find its fenced blocks."""
    lines = text.split("\n")
    kinds = bytearray(len(lines))
    fences: list[Fence] = []
    todo = line_numbers(text, STRICT_LINES if strict else LENIENT_LINES)
    c = 0
    while c < len(todo):
        i = todo[c]
        quoted, inner = (False, lines[i]) if strict else unquote(lines[i])
        found = opener(inner, strict)
        c += 1
        if found is None:
            continue
        stop, closer, c = _fence_end(lines, todo, c, i, found, quoted)
        fences.append(Fence(start=i, stop=stop, closer=closer, opener=found, quoted=quoted))
        kinds[i] = Kind.OPEN
        kinds[i + 1 : stop] = bytes([Kind.BODY]) * (stop - i - 1)
        if closer is not None:
            kinds[closer] = Kind.CLOSE
    return Layout(lines=lines, kinds=kinds, fences=fences, starts=[f.start for f in fences])


def _fence_end(
    lines: list[str], todo: list[int], c: int, start: int, found: Opener, quoted: bool
) -> tuple[int, int | None, int]:
    """Where a fence opened at `start` ends: (stop, closer line or None, next candidate to visit).

    Only candidate lines can close a fence; a quoted fence also ends at the first line without `>`.
    """
    previous = start
    while c < len(todo):
        j = todo[c]
        if quoted and j != previous + 1:
            return previous + 1, None, c
        in_quote, body = unquote(lines[j]) if quoted else (False, lines[j])
        if quoted and not in_quote:
            return j, None, c
        if closes(body, found):
            return j, j, c + 1
        previous = j
        c += 1
    return (previous + 1 if quoted else len(lines)), None, c


def in_code_spans(layout: Layout, candidates: list[int]) -> set[int]:
    """The candidate lines (ascending) whose start lies inside an inline code span opened on an earlier line."""
    lines, kinds = layout.lines, layout.kinds
    inside: set[int] = set()
    floor = 0
    c = 0
    while c < len(candidates):
        line_no = candidates[c]
        first = line_no
        while first > floor and kinds[first - 1] == Kind.PLAIN and lines[first - 1].strip():
            first -= 1
        last = line_no + 1
        while last < len(lines) and kinds[last] == Kind.PLAIN and lines[last].strip():
            last += 1
        members = []
        while c < len(candidates) and candidates[c] < last:
            members.append(candidates[c])
            c += 1
        if any(m > first for m in members):
            inside.update(_spanned(lines[first:last], first, members))
        floor = last
    return inside


def _spanned(paragraph: list[str], first: int, members: list[int]) -> list[int]:
    """Which member lines of a paragraph start inside one of its code spans."""
    offsets = [0]
    for line in paragraph[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    spans = _code_spans("\n".join(paragraph))
    ends = [end for _, end in spans]
    out = []
    for line_no in members:
        offset = offsets[line_no - first]
        k = bisect.bisect_right(ends, offset)
        if k < len(spans) and spans[k][0] <= offset:
            out.append(line_no)
    return out


def _code_spans(text: str) -> list[tuple[int, int]]:
    """Inline code spans as (start, end) offsets of their content: a backtick run closes at the next run of equal length."""
    runs = [(m.start(), m.end() - m.start()) for m in BACKTICKS.finditer(text)]
    by_length: dict[int, list[int]] = {}
    for index, (_, length) in enumerate(runs):
        by_length.setdefault(length, []).append(index)
    cursor = dict.fromkeys(by_length, 0)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(runs):
        start, length = runs[i]
        same = by_length[length]
        k = cursor[length]
        while k < len(same) and same[k] <= i:
            k += 1
        cursor[length] = k
        if k < len(same):
            j = same[k]
            spans.append((start + length, runs[j][0]))
            i = j + 1
        else:
            i += 1
    return spans


def fenced(block: CodeBlock) -> str:
    """A fenced block that no line of the code can close: longer than any run of the fence character inside."""
    char = "~" if "`" in block.info else "`"
    longest = max((len(run) for run in re.findall(re.escape(char) + "+", block.text)), default=0)
    run = char * max(3, longest + 1)
    info = f" {block.info}" if block.info.startswith(char) else block.info
    return f"{run}{info}\n{block.text}\n{run}" if block.text else f"{run}{info}\n{run}"


def exact_text(layout: Layout, blocks: list[CodeBlock]) -> str:
    """The scanned text with its fenced blocks' bodies replaced, in order, by the exact code blocks."""
    out: list[str] = []
    line = 0
    for fence, block in zip(layout.fences, blocks, strict=False):
        end = fence.closer + 1 if fence.closer is not None else fence.stop
        out += layout.lines[line : fence.start]
        same = fence.body(layout.lines) == block.text and fence.opener.info == block.info and fence.closer is not None
        out += layout.lines[fence.start : end] if same else [fenced(block)]
        line = end
    out += layout.lines[line:]
    return "\n".join(out)
