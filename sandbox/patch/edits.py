"""The edits a payload carries, independent of how they were written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal[" ", "-", "+"]
Carrier = Literal["unified-diff", "search-replace", "whole-file", "code_file", "code_patch"]


@dataclass(frozen=True)
class Target:
    """Which file an edit names: a path, a file_id, or neither (then the command's default file).

    `from_code`: the path was read from the code itself (a first-line comment), not from a label.
    """

    path: str | None = None
    file_id: int | None = None
    from_code: bool = False


@dataclass(frozen=True)
class Hunk:
    """Lines to find (context and removed) and what replaces them (context and added)."""

    lines: tuple[tuple[Kind, str], ...]
    old_start: int | None = None
    header: str = "@@"
    old_no_eol: bool = False
    new_no_eol: bool = False

    @property
    def old(self) -> list[str]:
        return [t for k, t in self.lines if k != "+"]

    @property
    def new(self) -> list[str]:
        return [t for k, t in self.lines if k != "-"]

    @property
    def changes(self) -> bool:
        return any(k != " " for k, _ in self.lines)

    def text(self, cap: int = 60) -> str:
        """The hunk as a diff fragment, for a refusal message."""
        body = [f"{k}{t}" for k, t in self.lines]
        if len(body) > cap:
            body = [*body[:cap], f"... ({len(body) - cap} more lines)"]
        return "\n".join([self.header, *body])


@dataclass(frozen=True)
class DiffEdit:
    """One file's section of a unified diff; `old`/`new` is None for /dev/null."""

    old: Target | None
    new: Target | None
    hunks: tuple[Hunk, ...]
    carrier: Carrier = "unified-diff"


@dataclass(frozen=True)
class ReplaceEdit:
    """A SEARCH/REPLACE block: the lines between its markers and which of them may be its divider.

    The search text must occur once; an empty one creates a missing file.
    """

    target: Target
    body: tuple[str, ...]
    dividers: tuple[int, ...]
    carrier: Carrier = "search-replace"

    def splits(self) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """(search, replace) for each candidate divider."""
        return [(self.body[:k], self.body[k + 1 :]) for k in self.dividers]


@dataclass(frozen=True)
class WholeFile:
    """The complete new text of a file.

    `label` is a first-line comment naming a file (`label_target`), dropped when it names this
    file and the file does not start with it.
    """

    target: Target
    text: str
    label: str | None = None
    label_target: Target | None = None
    carrier: Carrier = "whole-file"


Edit = DiffEdit | ReplaceEdit | WholeFile


@dataclass
class Found:
    """Edits in payload order plus the carriers seen."""

    edits: list[tuple[int, Edit]] = field(default_factory=list)

    def add(self, offset: int, edit: Edit) -> None:
        if all(e != edit for _, e in self.edits):
            self.edits.append((offset, edit))

    def ordered(self) -> list[Edit]:
        return [e for _, e in sorted(self.edits, key=lambda pair: pair[0])]
