"""Writing planned changes all-or-nothing: stage every file, swap each in, roll back on failure."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from sandbox.errors import PatchRefused
from sandbox.models import FileChange
from sandbox.paths import confine

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
    if not target.is_file():
        raise PatchRefused(f"{change.path} is not a regular file; nothing was written")
    if change.before is None or target.read_bytes() != change.before.encode("utf-8"):
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
    try:
        for slot in slots:
            if slot.change.after is not None:
                slot.temp = _stage(slot.target, slot.change.after, slot.mode, made)
        for slot in slots:
            if slot.temp is None:
                slot.target.unlink()
            else:
                os.replace(slot.temp, slot.target)
                slot.temp = None
            slot.done = True
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
