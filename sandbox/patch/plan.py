"""From a payload to every file's new content, without writing anything.

Edits apply in payload order, each to the result of the previous ones; a file is read once.
Any refusal refuses the whole payload, so a multi-file payload changes all its files or none.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from sandbox.errors import PatchRefused
from sandbox.models import FileChange
from sandbox.patch.carriers import find_edits
from sandbox.patch.edits import DiffEdit, Edit, ReplaceEdit, Target, WholeFile
from sandbox.patch.hunks import place_hunks, replacement_hunk
from sandbox.patch.text import Lines, loose
from sandbox.paths import relative
from sandbox.treeio import NotARegularFile, read_file

ResolveId = Callable[[int], "str | None"]

NO_EDIT = (
    "no edit found: send a unified diff, SEARCH/REPLACE blocks, a fenced whole file whose path is on the fence line "
    "or on the line before it, or <code_file>/<code_patch> tags"
)
# A whole file must not be an excerpt: elision comments, or most of the current file missing.
_ELISION = re.compile(
    r"^\s*(?:(?://+|#|--|/\*|<!--)\s*)?(?:\.\.\.|…)\s*(?:\*/|-->)?\s*$"
    r"|^\s*(?://+|#|--|/\*|<!--).*?(?:\.\.\.|…).*\b(?:existing|rest of|unchanged|omitted|remaining|same as before)\b",
    re.IGNORECASE,
)
EXCERPT_MIN_LINES = 20
EXCERPT_KEPT = 0.5


@dataclass
class Plan:
    """The changes a payload makes and the carriers it used."""

    changes: list[FileChange]
    formats: list[str]


class _Files:
    """Each touched file's original and current text (None: absent), keyed by canonical path."""

    def __init__(self, root: Path, resolve_id: ResolveId | None, default_path: str | None) -> None:
        self.root = root
        self.resolve_id = resolve_id
        self.default_path = default_path
        self.original: dict[str, str | None] = {}
        self.current: dict[str, str | None] = {}

    def path(self, target: Target) -> str:
        name = target.path
        if name is None and target.file_id is not None:
            name = self.resolve_id(target.file_id) if self.resolve_id is not None else None
            if name is None:
                raise PatchRefused(f"unknown file_id={target.file_id}")
        name = name if name is not None else self.default_path
        if name is None:
            raise PatchRefused("an edit names no file: add the path (e.g. --- a/src/lib.rs) or give file_id=N")
        return relative(self.root, name)

    def get(self, path: str) -> str | None:
        if path not in self.current:
            self.original[path] = self.current[path] = _read(self.root / path, path)
        return self.current[path]

    def set(self, path: str, text: str | None) -> None:
        self.get(path)
        self.current[path] = text

    def changes(self) -> list[FileChange]:
        return [FileChange(path=p, before=self.original[p], after=t) for p, t in self.current.items() if t != self.original[p]]


def _read(file: Path, path: str) -> str | None:
    if not file.exists():
        return None
    try:
        data = read_file(file, shown=path)  # never follows, blocks on, or slurps what a build left there
    except NotARegularFile as exc:
        raise PatchRefused(str(exc)) from None
    if b"\0" in data:
        raise PatchRefused(f"{path} is a binary file; only text files can be edited")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PatchRefused(f"{path} is not UTF-8 text; only text files can be edited") from None


def _check_payload(payload: str) -> None:
    if "\0" in payload:
        raise PatchRefused("the payload contains NUL bytes (binary data); only text edits are accepted")
    try:
        payload.encode("utf-8")
    except UnicodeEncodeError:
        raise PatchRefused("the payload is not valid text (it holds unpaired surrogates)") from None


def make_plan(root: Path, payload: str, *, resolve_id: ResolveId | None = None, default_path: str | None = None) -> Plan:
    """Every file's new content and the carriers used; raise PatchRefused / PathRefused."""
    _check_payload(payload)
    edits = find_edits(payload, default_path)
    if not edits:
        raise PatchRefused(NO_EDIT)
    files = _Files(root, resolve_id, default_path)
    for edit in edits:
        _apply(files, edit)
    changes = files.changes()
    if not changes:
        raise PatchRefused("the payload changes nothing: every file already has the given content", already_applied=True)
    formats: list[str] = list(dict.fromkeys(e.carrier for e in edits))
    logger.debug(f"planned {len(changes)} file change(s) from {len(edits)} edit(s): {', '.join(formats)}")
    return Plan(changes, formats)


def plan_payload(root: Path, payload: str, *, resolve_id: ResolveId | None = None, default_path: str | None = None) -> list[FileChange]:
    """Compute every file's new content without writing; raise PatchRefused / PathRefused."""
    return make_plan(root, payload, resolve_id=resolve_id, default_path=default_path).changes


def _apply(files: _Files, edit: Edit) -> None:
    if isinstance(edit, WholeFile):
        path = files.path(edit.target)
        files.set(path, _whole(files.get(path), edit, path))
    elif isinstance(edit, ReplaceEdit):
        path = files.path(edit.target)
        files.set(path, _search_replace(files.get(path), edit, path))
    else:
        _diff(files, edit)


def _whole(current: str | None, edit: WholeFile, path: str) -> str:
    """The new text in the current file's style (line endings, BOM, final newline)."""
    lines = edit.text.split("\n")
    style = Lines.parse(current or "")
    if edit.label is not None and not (style.texts and loose(style.texts[0]) == loose(edit.label)):
        lines = lines[1:]
    if edit.carrier == "whole-file":
        _refuse_excerpt(lines, style, path)
    final_newline = style.final_newline if current else True
    return style.rebuilt([(t, None) for t in Lines.parse("\n".join(lines)).texts], final_newline).render()


def _refuse_excerpt(lines: list[str], current: Lines, path: str) -> None:
    for number, line in enumerate(lines, 1):
        if _ELISION.search(line):
            raise PatchRefused(
                f"the block for {path} is an excerpt, not a whole file (line {number}: {line.strip()[:80]!r}); "
                "send a diff or SEARCH/REPLACE instead"
            )
    had = Counter(k for k in map(loose, current.texts) if k)
    if sum(had.values()) < EXCERPT_MIN_LINES:
        return
    kept = sum((had & Counter(k for k in map(loose, lines) if k)).values())
    if kept < EXCERPT_KEPT * sum(had.values()):
        raise PatchRefused(
            f"the block for {path} keeps only {kept} of its {sum(had.values())} non-blank lines: it looks like an excerpt; "
            f"send a diff or SEARCH/REPLACE, or a <code_file name=\"{path}\"> tag to replace the file whole"
        )


def _search_replace(current: str | None, edit: ReplaceEdit, path: str) -> str:
    if not edit.search:
        if current is None or not current.strip():
            return _whole(current, WholeFile(edit.target, "\n".join(edit.replace), carrier="search-replace"), path)
        raise PatchRefused(f"an empty SEARCH section for {path}, which exists and is not empty: say which lines to replace")
    if current is None:
        raise PatchRefused(f"{path} does not exist: a SEARCH/REPLACE block edits an existing file")
    return place_hunks(Lines.parse(current), [replacement_hunk(edit.search, edit.replace)], path).render()


def _diff(files: _Files, edit: DiffEdit) -> None:
    if edit.old is None and edit.new is None:
        raise PatchRefused("a diff section has /dev/null on both sides")
    if edit.old is None:
        assert edit.new is not None
        path = files.path(edit.new)
        created = place_hunks(Lines.parse(""), edit.hunks, path).render()
        current = files.get(path)
        if current is not None:
            state = "already has this content (already applied)" if current == created else "already exists"
            raise PatchRefused(f"cannot create {path}: it {state}", already_applied=current == created)
        files.set(path, created)
        return
    old_path = files.path(edit.old)
    current = files.get(old_path)
    if current is None:
        raise PatchRefused(f"{old_path} does not exist")
    result = place_hunks(Lines.parse(current), edit.hunks, old_path).render() if edit.hunks else current
    if edit.new is None:
        if edit.hunks and Lines.parse(result).texts:
            raise PatchRefused(f"cannot delete {old_path}: the diff's removed lines are not the whole file")
        files.set(old_path, None)
        return
    new_path = files.path(edit.new)
    if new_path != old_path:
        if files.get(new_path) is not None:
            raise PatchRefused(f"cannot rename {old_path} to {new_path}: {new_path} already exists")
        files.set(old_path, None)
    elif not edit.hunks:
        raise PatchRefused(f"the diff for {old_path} has no hunks")
    files.set(new_path, result)
