"""Reading and restoring workspace files that a build may have replaced: nothing here follows a link, blocks on a
FIFO or device, or reads an unbounded file.

Builds write the workspace's tree, so every host-side read of it (get_code, the applier, undo, the
state after a crash) goes through `read_file`: the path is checked with lstat, opened with
O_NOFOLLOW|O_NONBLOCK, checked again with fstat (same file, a regular one) and read up to a cap.
`restore` puts a file back whatever now stands in its place (a FIFO, a link, a folder).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

from sandbox.errors import SandboxError

READ_CAP = 16_000_000
"""Bytes the executor reads of one workspace file at most."""
NEW_FILE_MODE = 0o644
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class NotARegularFile(SandboxError):
    """A workspace path holds something other than a regular file, or one over the cap."""


def kind_of(mode: int) -> str:
    """What an lstat mode is, as a reply names it."""
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symlink"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "a special file"


def read_file(path: Path, *, shown: str | None = None, cap: int = READ_CAP) -> bytes:
    """The bytes of the regular file at `path`, whose last name must not be a link; at most `cap` bytes.

    Raises FileNotFoundError when nothing is there, NotARegularFile for anything else (`shown` names
    the path in the message).
    """
    name = shown or str(path)
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise NotARegularFile(f"{name} is {kind_of(info.st_mode)}, not a regular file")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            raise NotARegularFile(f"{name} changed into something other than a regular file") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            raise NotARegularFile(f"{name} changed into something other than a regular file")
        if opened.st_size > cap:
            raise NotARegularFile(f"{name} holds {opened.st_size} bytes, over the {cap}-byte limit")
        data = handle.read(cap + 1)
    if len(data) > cap:
        raise NotARegularFile(f"{name} holds over {cap} bytes, over the limit")
    return data


def read_text_or_none(path: Path, *, shown: str | None = None) -> str | None:
    """The UTF-8 text of the regular file at `path`, or None when there is none (NotARegularFile for anything else)."""
    try:
        return read_file(path, shown=shown).decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise NotARegularFile(f"{shown or path} is not UTF-8 text") from None


def what_is_at(path: Path) -> str | None:
    """What stands at `path` when it is not a regular file ("a FIFO", …); None for a regular file or nothing."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    return None if stat.S_ISREG(mode) else kind_of(mode)


def restore(target: Path, text: str | None, mode: int | None = None) -> None:
    """Make `target` hold `text` (None: nothing), replacing whatever is there in one rename.

    A folder in the way is renamed aside first and removed after; a link, FIFO or socket is replaced
    by the rename itself. The parent folder must be a real folder (the caller confines the path).
    """
    aside: Path | None = None
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISDIR(os.lstat(target).st_mode):
            aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
            os.replace(target, aside / "folder")
    try:
        if text is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
            os.chmod(name, NEW_FILE_MODE if mode is None else mode)
            os.replace(name, target)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
