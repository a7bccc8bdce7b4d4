"""SEARCH/REPLACE blocks (aider style), fenced or not.

A block runs from its `<<<<<<< SEARCH` line to the first `>>>>>>> REPLACE` line. Its `=======`
divider is the one line between them that looks like one; when the content itself has such
lines (a Markdown heading's underline, a separator in a comment), every one of them is kept as
a candidate and the file decides (see `plan`): the block applies only when exactly one split
places.
"""

from __future__ import annotations

import re

from sandbox.errors import PatchRefused
from sandbox.patch.edits import ReplaceEdit, Target
from sandbox.patch.labels import label_path

SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
DIVIDER = re.compile(r"^\s*={5,9}\s*$")
REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")


def has_blocks(lines: list[str] | tuple[str, ...]) -> bool:
    return any(SEARCH.match(line) for line in lines)


def parse_blocks(lines: list[str], path: str | None) -> list[tuple[int, ReplaceEdit]]:
    """The blocks in `lines`; each belongs to the nearest path line above it, else to `path`."""
    out: list[tuple[int, ReplaceEdit]] = []
    i = 0
    while i < len(lines):
        if SEARCH.match(lines[i]):
            end = next((j for j in range(i + 1, len(lines)) if REPLACE.match(lines[j])), None)
            if end is None:
                raise PatchRefused(f"unterminated SEARCH/REPLACE block at line {i + 1}: no >>>>>>> REPLACE line")
            body = tuple(lines[i + 1 : end])
            dividers = tuple(k for k, line in enumerate(body) if DIVIDER.match(line))
            if not dividers:
                raise PatchRefused(f"the SEARCH/REPLACE block at line {i + 1} has no ======= line")
            target = Target(path) if path is not None else Target()
            out.append((i, ReplaceEdit(target, body, dividers)))
            i = end + 1
            continue
        named = label_path(lines[i]) if lines[i].strip() else None
        if named is not None:
            path = named
        i += 1
    return out
