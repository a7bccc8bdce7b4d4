"""Writing planned changes all-or-nothing: stage every file, swap each in, roll back on failure."""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loguru import logger

from sandbox.errors import PatchRefused
from sandbox.models import FileChange
from sandbox.paths import confine
from sandbox.treeio import NotARegularFile, read_file

NEW_FILE_MODE = 0o644


@dataclass
class _Slot:
    """One change's target, its mode before, and its staged temp file."""

    change: FileChange
    target: Path
    mode: int | None
    temp: Path | None = None
    done: bool = False


def _check(change: FileChange, target: Path) -> int | None:
    """The target's mode (None: absent); refuse when the file is no longer what the plan read."""
    stale = PatchRefused(f"{change.path} changed since the patch was planned; nothing was written")
    if not target.exists():
        if change.before is not None:
            raise stale
        return None
    try:
        current = read_file(target, shown=change.path)
    except NotARegularFile as exc:
        raise PatchRefused(f"{exc}; nothing was written") from None
    if change.before is None or current != change.before.encode("utf-8"):
        raise stale
    return stat.S_IMODE(target.stat().st_mode)


def _stage(target: Path, text: str, mode: int | None, made: list[Path]) -> Path:
    """Write `text` to a temp file beside `target`, creating (and remembering) missing folders."""
    missing = [d for d in reversed(target.parents) if not d.exists()]
    for folder in missing:
        folder.mkdir()
        made.append(folder)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(text.encode("utf-8"))
    os.chmod(name, NEW_FILE_MODE if mode is None else mode)
    return Path(name)


def _restore(slot: _Slot, made: list[Path]) -> None:
    before = slot.change.before
    if before is None:
        slot.target.unlink(missing_ok=True)
    else:
        os.replace(_stage(slot.target, before, slot.mode, made), slot.target)


def write_changes(root: Path, changes: list[FileChange]) -> None:
    """Write all changes or none (temp file + os.replace per file, rollback on failure).

    Before anything is written, each file must still hold the change's `before` text.
    """
    slots = [_Slot(c, confine(root, c.path), None) for c in changes]
    for slot in slots:
        slot.mode = _check(slot.change, slot.target)
    made: list[Path] = []
    current: _Slot | None = None
    try:
        for current in slots:
            if current.change.after is not None:
                current.temp = _stage(current.target, current.change.after, current.mode, made)
        for current in slots:
            if current.temp is None:
                current.target.unlink()
            else:
                os.replace(current.temp, current.target)
                current.temp = None
            current.done = True
    except OSError as exc:  # e.g. a folder that is a file, a name too long, a full disk
        _roll_back(slots, made)
        where = current.change.path if current is not None else "the tree"
        raise PatchRefused(f"cannot write {where}: {exc.strerror or exc}; nothing was written") from exc
    except BaseException:
        _roll_back(slots, made)
        raise


def _roll_back(slots: list[_Slot], made: list[Path]) -> None:
    """Drop staged files, restore swapped ones, remove the folders made for new files."""
    for slot in slots:
        if slot.temp is not None:
            slot.temp.unlink(missing_ok=True)
    for slot in reversed([s for s in slots if s.done]):
        try:
            _restore(slot, made)
        except OSError as exc:
            logger.error(f"rollback could not restore {slot.change.path}: {exc}")
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _holds(target: Path, text: str | None) -> bool:
    if text is None:
        return not os.path.lexists(target)
    try:
        return read_file(target) == text.encode("utf-8")
    except (OSError, NotARegularFile):
        return False


def resume_write(root: Path, changes: list[FileChange]) -> Literal["written", "unwritten", "conflict"]:
    """After a crash inside `write_changes`: finish writing `changes` when it had begun, so no patch stays half-applied.

    Temp files staged beside the targets are removed. "written": every file now holds its new text;
    "unwritten": none had been written and nothing was changed; "conflict": a file holds neither its
    old nor its new text, and nothing was changed.
    """
    targets = [confine(root, c.path) for c in changes]
    for target in targets:
        for staged in target.parent.glob(f".{glob.escape(target.name)}.*.tmp") if target.parent.is_dir() else []:
            staged.unlink(missing_ok=True)
    done = [_holds(t, c.after) for c, t in zip(changes, targets, strict=True)]
    if all(done):
        return "written"
    if not all(d or _holds(t, c.before) for c, t, d in zip(changes, targets, done, strict=True)):
        return "conflict"
    if not any(done):
        return "unwritten"
    write_changes(root, [c for c, d in zip(changes, done, strict=True) if not d])
    return "written"
