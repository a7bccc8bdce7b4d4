"""SEARCH/REPLACE blocks (aider style), fenced or not."""

from __future__ import annotations

import re

from sandbox.errors import PatchRefused
from sandbox.patch.edits import ReplaceEdit, Target
from sandbox.patch.fences import label_path

SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")


def has_blocks(lines: list[str] | tuple[str, ...]) -> bool:
    return any(SEARCH.match(line) for line in lines)


def _find(pattern: re.Pattern[str], lines: list[str], start: int, what: str, opened: int) -> int:
    for j in range(start, len(lines)):
        if pattern.match(lines[j]):
            return j
    raise PatchRefused(f"unterminated SEARCH/REPLACE block at line {opened + 1}: no {what} line")


def parse_blocks(lines: list[str], path: str | None) -> list[tuple[int, ReplaceEdit]]:
    """The blocks in `lines`; each belongs to the nearest path line above it, else to `path`."""
    out: list[tuple[int, ReplaceEdit]] = []
    i = 0
    while i < len(lines):
        if SEARCH.match(lines[i]):
            divider = _find(_DIVIDER, lines, i + 1, "=======", i)
            end = _find(_REPLACE, lines, divider + 1, ">>>>>>> REPLACE", i)
            target = Target(path) if path is not None else Target()
            out.append((i, ReplaceEdit(target, tuple(lines[i + 1 : divider]), tuple(lines[divider + 1 : end]))))
            i = end + 1
            continue
        named = label_path(lines[i]) if lines[i].strip() else None
        if named is not None:
            path = named
        i += 1
    return out
