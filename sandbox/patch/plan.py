"""From a payload to every file's new content, without writing anything.

Edits apply in payload order, each to the result of the previous ones; a file is read once.
Any refusal refuses the whole payload, so a multi-file payload changes all its files or none.

Names resolve against the tree: a name that is not a file of the tree but is the tail of exactly
one (`tokens.rs` for `src/parse/tokens.rs`) stands for that file; a tail of several is refused.
A name read from the code itself (a block's first-line comment) must resolve to an existing file;
it never creates one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loguru import logger

from sandbox.errors import PatchRefused
from sandbox.models import FileChange
from sandbox.patch.carriers import find_edits
from sandbox.patch.edits import DiffEdit, Edit, ReplaceEdit, Target, WholeFile
from sandbox.patch.excerpt import excerpt_reason
from sandbox.patch.hunks import place_hunks, replacement_hunk
from sandbox.patch.text import Lines, loose
from sandbox.paths import relative
from sandbox.treeio import NotARegularFile, read_file

ResolveId = Callable[[int], "str | None"]

NO_EDIT = (
    "no edit found: send a unified diff, SEARCH/REPLACE blocks, a fenced whole file whose path is on the fence line "
    "or on the line before it, or <code_file>/<code_patch> tags"
)
# Folders never searched when a short name is resolved: VCS data, build output, dependencies, caches.
_SKIPPED = {".git", "target", "node_modules", "__pycache__"}
MAX_LISTED = 50_000


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
        self._listed: list[str] | None = None

    def path(self, target: Target, mode: Literal["edit", "write", "create"] = "edit") -> str:
        """The canonical path an edit's target names.

        "edit" (the file must exist) resolves a missing name by its tail; "write" (a whole file,
        new or not) only a name without a folder or one read from the code; "create" keeps it as given.
        A file name read from the code must be the name of exactly one file, at the top or below.
        """
        name = target.path
        if name is None and target.file_id is not None:
            name = self.resolve_id(target.file_id) if self.resolve_id is not None else None
            if name is None:
                raise PatchRefused(f"unknown file_id={target.file_id}")
        name = name if name is not None else self.default_path
        if name is None:
            raise PatchRefused("an edit names no file: add the path (e.g. --- a/src/lib.rs) or give file_id=N")
        path = relative(self.root, name)
        bare_code_name = target.from_code and "/" not in path  # `// lib.rs` must name one file of the whole tree
        if mode == "create" or (self.get(path) is not None and not bare_code_name):
            return path
        if mode == "write" and "/" in path and not target.from_code:
            return path
        tails = ([path] if self.get(path) is not None else []) + self.tails(path)
        if len(tails) == 1:
            return tails[0]
        if len(tails) > 1:
            shown = ", ".join(tails[:5]) + (", …" if len(tails) > 5 else "")
            raise PatchRefused(f"{name} could be any of {len(tails)} files ({shown}): give the file's full path")
        if target.from_code:
            raise PatchRefused(
                f"the block's first line names {name}, which is not a file of the project; "
                "put the file's path on the line before the fence to create it"
            )
        return path

    def tails(self, path: str) -> list[str]:
        """The tree's files whose path ends with `/path`."""
        if self._listed is None:
            self._listed = _listing(self.root)
        suffix = "/" + path
        return [p for p in self._listed if p.endswith(suffix) and self.get(p) is not None]

    def get(self, path: str) -> str | None:
        if path not in self.current:
            self.original[path] = self.current[path] = _read(self.root / path, path)
        return self.current[path]

    def set(self, path: str, text: str | None) -> None:
        self.get(path)
        self.current[path] = text

    def changes(self) -> list[FileChange]:
        return [FileChange(path=p, before=self.original[p], after=t) for p, t in self.current.items() if t != self.original[p]]


def _listing(root: Path) -> list[str]:
    """The tree's file paths (relative, "/"-separated), skipping `_SKIPPED` folders; at most MAX_LISTED."""
    out: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED)
        base = Path(folder).relative_to(root).as_posix()
        out += [name if base == "." else f"{base}/{name}" for name in sorted(files)]
        if len(out) >= MAX_LISTED:
            break
    return out


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
        path = files.path(edit.target, "write")
        files.set(path, _whole(files, edit, path))
    elif isinstance(edit, ReplaceEdit):
        path = files.path(edit.target)
        files.set(path, _search_replace(files.get(path), edit, path))
    else:
        _diff(files, edit)


def _whole(files: _Files, edit: WholeFile, path: str) -> str:
    """The new text in the current file's style (line endings, BOM, final newline)."""
    current = files.get(path)
    lines = edit.text.split("\n")
    style = Lines.parse(current or "")
    if edit.label is not None and _drops_label(files, edit, path, style):
        lines = lines[1:]
    if current is not None and edit.carrier in ("whole-file", "code_file"):
        reason = excerpt_reason(style.texts, lines, path, whole_only=edit.carrier == "code_file")
        if reason is not None:
            raise PatchRefused(
                f"the block for {path} is an excerpt, not a whole file: {reason}; "
                f"send a diff or SEARCH/REPLACE, or the complete file"
            )
    final_newline = style.final_newline if current else True
    return style.rebuilt([(t, None) for t in Lines.parse("\n".join(lines)).texts], final_newline).render()


def _drops_label(files: _Files, edit: WholeFile, path: str, style: Lines) -> bool:
    """Whether the block's first-line comment is a label to drop: it names this file, which does not start with it.

    A comment naming another existing file contradicts the block's path and is refused.
    """
    assert edit.label is not None
    if style.texts and loose(style.texts[0]) == loose(edit.label):
        return False
    if edit.label_target is None or edit.label_target == edit.target:
        return True
    named = edit.label_target.path or ""
    if path == named or path.endswith("/" + named):
        return True
    try:
        other = files.path(edit.label_target)
    except PatchRefused:
        return False  # the comment names no file of the project: it is the file's own text
    raise PatchRefused(f"the block for {path} starts with a comment naming another file, {other}: say which file it is")


def _search_replace(current: str | None, edit: ReplaceEdit, path: str) -> str:
    """The one split of the block that applies; with several candidate dividers, exactly one may place."""
    results: list[str] = []
    errors: list[PatchRefused] = []
    for search, replace in edit.splits():
        try:
            results.append(_one_split(current, search, replace, edit.target, path))
        except PatchRefused as exc:
            errors.append(exc)
    if len(set(results)) == 1:
        return results[0]
    if not results:
        raise errors[0]
    raise PatchRefused(
        f"a SEARCH/REPLACE block for {path} has {len(edit.dividers)} lines that could be its ======= divider "
        f"and {len(set(results))} of the readings apply: keep ======= out of the block's text"
    )


def _one_split(current: str | None, search: tuple[str, ...], replace: tuple[str, ...], target: Target, path: str) -> str:
    if not search:
        if current is None or not current.strip():
            style = Lines.parse(current or "")
            return style.rebuilt([(t, None) for t in Lines.parse("\n".join(replace)).texts], True).render()
        raise PatchRefused(f"an empty SEARCH section for {path}, which exists and is not empty: say which lines to replace")
    if current is None:
        raise PatchRefused(f"{path} does not exist: a SEARCH/REPLACE block edits an existing file")
    return place_hunks(Lines.parse(current), [replacement_hunk(search, replace)], path).render()


def _diff(files: _Files, edit: DiffEdit) -> None:
    if edit.old is None and edit.new is None:
        raise PatchRefused("a diff section has /dev/null on both sides")
    if edit.old is None:
        assert edit.new is not None
        path = files.path(edit.new, "create")
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
    new_path = files.path(edit.new, "create") if edit.new != edit.old else old_path
    if new_path != old_path:
        if files.get(new_path) is not None:
            raise PatchRefused(f"cannot rename {old_path} to {new_path}: {new_path} already exists")
        files.set(old_path, None)
    elif not edit.hunks:
        raise PatchRefused(f"the diff for {old_path} has no hunks")
    files.set(new_path, result)
