"""A payload cut into fenced blocks and the prose between them, read the way edits need.

Fences are read by `sandbox.markdown` (CommonMark, top level), with two additions an edit's
text calls for:

- lines that belong to an edit are never fences: the lines of a diff hunk (after an `@@` line,
  and on past an elision line such as `...` that splits a hunk, as `sandbox.patch.diffs` reads
  it; " ```" there is a context line) and the content of a SEARCH/REPLACE block, so a fence
  inside the text an edit carries does not end the block around it, nor cuts a diff short;
- the nested reading: inside a block, a fence line with an info string opens an inner block
  whose bare closing line does not end the outer one (LLMs do not lengthen the outer fence of
  a Markdown file that has fences of its own). Where the closer of such a block could instead
  open another inner block that a later line closes, `Block.end_ambiguous` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.markdown import Fence, dedent, end_is_ambiguous, scan
from sandbox.patch.diffs import ELISION
from sandbox.patch.labels import info_path, label_path, language_of
from sandbox.patch.searchreplace import REPLACE, SEARCH


@dataclass(frozen=True)
class Block:
    """A fenced code block: its info string, its content lines, the non-blank line just before it, and
    the fence as read in the payload's lines (`text`)."""

    start: int
    info: str
    lines: tuple[str, ...]
    label: str | None
    fence: Fence = field(compare=False, repr=False)
    text: tuple[str, ...] = field(compare=False, repr=False)

    @property
    def language(self) -> str:
        return language_of(self.info)

    @property
    def label_file(self) -> str | None:
        """The path written on the line before the fence."""
        return label_path(self.label) if self.label is not None else None

    @property
    def path(self) -> str | None:
        """The path the fence names, from its info string or from the line before it."""
        return info_path(self.info) or self.label_file

    @property
    def end_ambiguous(self) -> bool:
        """Whether the block could also end at a later line (see `sandbox.markdown.end_is_ambiguous`)."""
        return end_is_ambiguous(list(self.text), self.fence)


@dataclass(frozen=True)
class Prose:
    """Text outside any fence."""

    start: int
    lines: tuple[str, ...]


class EditLines:
    """Hides the lines of diff hunks and SEARCH/REPLACE blocks from fence detection.

    A hunk's lines follow an `@@` line, or a `--- `/`+++ ` pair (a body without `@@`), and go on
    past an elision line (`sandbox.patch.diffs.ELISION`).
    """

    def __init__(self) -> None:
        self.hunk = False
        self.replacing = False
        self.old_header = False

    def hides(self, line: str) -> bool:
        if self.replacing:
            self.replacing = REPLACE.match(line) is None
            return True
        if SEARCH.match(line):
            self.replacing, self.hunk, self.old_header = True, False, False
            return True
        if self.hunk and (line == "" or line[0] in " +-\\"):
            return True
        new_header = self.old_header and line.startswith("+++ ")
        self.old_header = line.startswith("--- ")
        self.hunk = line.startswith("@@") or new_header or (self.hunk and ELISION.match(line) is not None)
        return False


def segments(lines: list[str]) -> list[Block | Prose]:
    """Split lines into fenced blocks and the prose between them; an unclosed fence runs to the end."""
    layout = scan("\n".join(lines), strict=True, nested=True, guard=EditLines)
    text = tuple(layout.lines)
    out: list[Block | Prose] = []
    prose_start = 0
    for fence in layout.fences:
        if prose_start < fence.start:
            out.append(Prose(prose_start, text[prose_start : fence.start]))
        body = tuple(dedent(line, fence.opener.column) for line in layout.lines[fence.start + 1 : fence.stop])
        out.append(Block(fence.start, fence.opener.info, body, _label_before(lines, fence.start), fence, text))
        prose_start = fence.end
    if prose_start < len(lines):
        out.append(Prose(prose_start, text[prose_start:]))
    return out


def _label_before(lines: list[str], i: int) -> str | None:
    """The nearest non-blank line before line i, looking back past at most one blank line."""
    for j in (i - 1, i - 2):
        if j >= 0 and lines[j].strip():
            return lines[j]
    return None
