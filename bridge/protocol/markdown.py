"""Markdown for commands: inline code spans, and a message's text with its code blocks made exact.

Code blocks are read by `sandbox.markdown`, the one CommonMark fence reader and writer.
"""

from __future__ import annotations

import bisect
import re

from bridge.models import CodeBlock
from sandbox.markdown import Kind, Layout, fenced

BACKTICKS = re.compile(r"`+")


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


def exact_text(layout: Layout, blocks: list[CodeBlock]) -> str:
    """The scanned text with its fenced blocks' bodies replaced, in order, by the exact code blocks."""
    out: list[str] = []
    line = 0
    for fence, block in zip(layout.fences, blocks, strict=False):
        out += layout.lines[line : fence.start]
        same = fence.body(layout.lines) == block.text and fence.opener.info == block.info and fence.complete
        out += layout.lines[fence.start : fence.end] if same else [fenced(block.text, block.info)]
        line = fence.end
    out += layout.lines[line:]
    return "\n".join(out)
