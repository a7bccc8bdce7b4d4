"""CommonMark code blocks in chat text, read and written: the one fence reader and writer.

Reading (`scan`) follows CommonMark's rules for fenced code blocks (spec 0.31, section 4.5): an
opener is a run of at least three backticks or tildes indented up to 3 columns (an opener of
backticks has no backtick in its info string); the block ends at the first line that is a run
of the same character at least as long as the opener, with nothing but blanks after it, or at
the end of the text. Options widen the reading where a caller needs it:

- `strict=False` also sees fences indented further, inside list items and inside block quotes
  (a quoted fence also ends at the first line without `>`), so code in any container is code.
- `indented=True` also finds indented code blocks (section 4.4): after a blank line (or at the
  start), lines indented 4 columns or more, up to the first
  non-blank line indented less; trailing blank lines are not part of the block.
- `nested=True` reads the nesting LLMs write without lengthening the outer fence: inside a
  block, a fence line with an info string (```` ```sh ````) opens an inner block, and the next
  bare closing line closes that inner block, not the outer one. `end_is_ambiguous` tells where a
  block's end could be read otherwise.
- `guard` hides lines from fence detection (e.g. the lines of a diff hunk, where " ```" is a
  context line): a fresh guard is asked about every line, outside and inside blocks.

Without a guard only lines that can matter are visited in Python (found by one regex pass), so
a multi-megabyte text costs little more than its split.

Writing (`fenced`) picks a fence no line of the code can close.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

LIST_MARKER = re.compile(r"(?:[-*+]|\d{1,9}[.)])[ \t]+")
# Lines that can open, close or contain a fence: fence-like, list-item fences, quotes.
LENIENT_LINES = re.compile(r"^[ \t]*(?:>|(?:[-*+]|\d{1,9}[.)])[ \t]+(?:```|~~~)|```|~~~)", re.MULTILINE)
STRICT_LINES = re.compile(r"^ {0,3}(?:```|~~~)", re.MULTILINE)
# A blank line (or the text's start) followed by a line indented 4 columns: where an indented block may start.
INDENTED_START = re.compile(r"(?:\A|^[ \t]*\n)(?= {4}| {0,3}\t)[ \t]*\S", re.MULTILINE)
TAB = 4
STRICT_INDENT = 3
CODE_INDENT = 4


class Kind(IntEnum):
    """What a line is: ordinary text, or a code block's opener, body or closer."""

    PLAIN = 0
    OPEN = 1
    BODY = 2
    CLOSE = 3


@dataclass(frozen=True, slots=True)
class Opener:
    """A fence opener line's parts; an indented code block has `char` "" and length 0."""

    char: str
    length: int
    info: str
    column: int


@dataclass(frozen=True, slots=True)
class Fence:
    """A code block: lines [start, stop) are the opener and body (an indented block has no opener line:
    its body starts at `start`); `closer` is None when a fence is unclosed."""

    start: int
    stop: int
    closer: int | None
    opener: Opener
    quoted: bool
    indented: bool = False

    @property
    def first(self) -> int:
        """The first body line."""
        return self.start if self.indented else self.start + 1

    @property
    def complete(self) -> bool:
        """Whether the block ended as the text says (a closer, or the end of an indented block)."""
        return self.indented or self.closer is not None

    @property
    def end(self) -> int:
        """The line after the block, its closer included."""
        return self.closer + 1 if self.closer is not None else self.stop

    def body(self, lines: list[str]) -> str:
        """The block's own text, as CommonMark gives it: quote markers and the fence's indent removed."""
        out = []
        for line in lines[self.first : self.stop]:
            if self.quoted:
                line = unquote(line)[1]
            out.append(dedent(line, self.opener.column))
        return "\n".join(out)


@dataclass(frozen=True, slots=True)
class Layout:
    """A text cut into lines, each line's kind, and the code blocks in order."""

    lines: list[str]
    kinds: bytearray
    fences: list[Fence]
    starts: list[int] = field(repr=False)  # each block's first line, for bisecting
    nesting: bool = False  # a block holds a line that opens an inner block in the nested reading

    def fences_between(self, first: int, last: int) -> range:
        """Indexes of the blocks whose first line lies in lines [first, last)."""
        return range(bisect.bisect_left(self.starts, first), bisect.bisect_left(self.starts, last))


class Guard(Protocol):
    """Hides lines from fence detection; asked about lines in order, it may keep state."""

    def hides(self, line: str) -> bool: ...


def columns(prefix: str) -> int:
    """Width of leading whitespace with tab stops of 4."""
    width = 0
    for ch in prefix:
        width = width + TAB - width % TAB if ch == "\t" else width + 1
    return width


def indent_of(line: str) -> int:
    """The width of a line's leading spaces and tabs."""
    return columns(line[: len(line) - len(line.lstrip(" \t"))])


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


def opens_inside(line: str, fence: Opener) -> bool:
    """Whether a line inside `fence` opens an inner block in the nested reading: a fence of the same
    character with an info string (a bare fence line cannot be told from the outer block's closer)."""
    inner = opener(line, strict=True)
    return inner is not None and inner.char == fence.char and inner.length >= fence.length and bool(inner.info)


def line_numbers(text: str, pattern: re.Pattern[str]) -> list[int]:
    """The numbers of the lines where a `^`-anchored multiline pattern matches."""
    out: list[int] = []
    line = pos = 0
    for match in pattern.finditer(text):
        line += text.count("\n", pos, match.start())
        pos = match.start()
        out.append(line)
    return out


def scan(
    text: str,
    *,
    strict: bool = False,
    indented: bool = False,
    nested: bool = False,
    guard: Callable[[], Guard] | None = None,
) -> Layout:
    """Cut `text` on "\\n" and find its code blocks (see the module docstring for the options)."""
    lines = text.split("\n")
    kinds = bytearray(len(lines))
    fences: list[Fence] = []
    if guard is not None:
        todo = list(range(len(lines)))
    else:
        todo = line_numbers(text, STRICT_LINES if strict else LENIENT_LINES)
    hiding = guard() if guard is not None else None
    nesting = False
    c = 0
    while c < len(todo):
        i = todo[c]
        c += 1
        if hiding is not None and hiding.hides(lines[i]):
            continue
        quoted, inner = (False, lines[i]) if strict else unquote(lines[i])
        found = opener(inner, strict)
        if found is None:
            continue
        stop, closer, c, inner_seen = _fence_end(lines, todo, c, i, found, quoted, nested, guard() if guard is not None else None)
        nesting = nesting or inner_seen
        fences.append(Fence(start=i, stop=stop, closer=closer, opener=found, quoted=quoted))
        kinds[i] = Kind.OPEN
        kinds[i + 1 : stop] = bytes([Kind.BODY]) * (stop - i - 1)
        if closer is not None:
            kinds[closer] = Kind.CLOSE
        hiding = guard() if guard is not None else None
    if indented:
        fences = sorted(fences + _indented_blocks(text, lines, kinds), key=lambda f: f.start)
    return Layout(lines=lines, kinds=kinds, fences=fences, starts=[f.start for f in fences], nesting=nesting)


def _fence_end(
    lines: list[str],
    todo: list[int],
    c: int,
    start: int,
    found: Opener,
    quoted: bool,
    nested: bool,
    hiding: Guard | None,
) -> tuple[int, int | None, int, bool]:
    """Where a fence opened at `start` ends: (stop, closer line or None, next candidate to visit, whether a
    line inside opens an inner block in the nested reading).

    Only candidate lines can close a fence; a quoted fence also ends at the first line without `>`.
    """
    previous = start
    depth = 0
    inner = False
    while c < len(todo):
        j = todo[c]
        if quoted and j != previous + 1:
            return previous + 1, None, c, inner
        in_quote, body = unquote(lines[j]) if quoted else (False, lines[j])
        if quoted and not in_quote:
            return j, None, c, inner
        if hiding is None or not hiding.hides(lines[j]):
            if closes(body, found):
                if depth == 0:
                    return j, j, c + 1, inner
                depth -= 1
            elif opens_inside(body, found):
                inner = True
                depth += nested
        previous = j
        c += 1
    return (previous + 1 if quoted else len(lines)), None, c, inner


def end_is_ambiguous(lines: list[str], fence: Fence) -> bool:
    """Whether a closed fence could end at a later line: after its closer, outside any block opened with an
    info string, a bare fence line follows. That line opens a block in CommonMark's reading, but may as well
    be this fence's true closer, its first closer a line of the content (or a nested block's bare opener)."""
    if fence.closer is None or fence.indented:
        return False
    inner: Opener | None = None
    for line in lines[fence.closer + 1 :]:
        found = opener(line, strict=True)
        if inner is not None:
            inner = None if closes(line, inner) else inner
        elif found is not None and found.char == fence.opener.char:
            if not found.info:
                return True
            inner = found
    return False


def _indented_blocks(text: str, lines: list[str], kinds: bytearray) -> list[Fence]:
    """The indented code blocks among the lines no fence took; their lines become BODY."""
    out: list[Fence] = []
    taken_until = 0
    for i in line_numbers(text, INDENTED_START):
        first = i if indent_of(lines[i]) >= CODE_INDENT and lines[i].strip() else i + 1
        if first < taken_until or first >= len(lines) or kinds[first] != Kind.PLAIN:
            continue
        last = first
        j = first
        while j < len(lines) and kinds[j] == Kind.PLAIN and (not lines[j].strip() or indent_of(lines[j]) >= CODE_INDENT):
            if lines[j].strip():
                last = j
            j += 1
        kinds[first : last + 1] = bytes([Kind.BODY]) * (last + 1 - first)
        out.append(Fence(start=first, stop=last + 1, closer=None, opener=Opener("", 0, "", CODE_INDENT), quoted=False, indented=True))
        taken_until = last + 1
    return out


def fenced(text: str, info: str = "") -> str:
    """`text` as a fenced code block that no line of it can close: a fence of the character the info
    string allows, one longer than any run of that character inside."""
    char = "~" if "`" in info else "`"
    longest = max((len(run) for run in re.findall(re.escape(char) + "+", text)), default=0)
    run = char * max(3, longest + 1)
    info = f" {info}" if info.startswith(run[0]) else info
    return f"{run}{info}\n{text}\n{run}" if text else f"{run}{info}\n{run}"
