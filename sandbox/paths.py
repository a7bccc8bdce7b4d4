"""Path confinement: a project-relative path in, a path inside the project out, or a refusal."""

from __future__ import annotations

import re
import stat
from pathlib import Path, PurePosixPath

from sandbox.errors import PathRefused
from sandbox.text import clip

_DRIVE = re.compile(r"^[A-Za-z]:")


def _shown(rel: str) -> str:
    """The refused path as it may appear in a chat reply: quoted, control characters escaped, capped."""
    return clip(repr(rel), 120)


def _parts(rel: str) -> tuple[str, ...]:
    """Split a relative path into its names, refusing the lexical escapes."""
    if not isinstance(rel, str) or not rel.strip():
        raise PathRefused("empty path")
    if "\0" in rel:
        raise PathRefused(f"path {_shown(rel)} contains a NUL byte")
    posix = rel.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        raise PathRefused(f"absolute path {_shown(rel)} refused: give a path relative to the project")
    parts = tuple(p for p in posix.split("/") if p not in ("", "."))
    if not parts:
        raise PathRefused(f"path {_shown(rel)} names no file")
    if ".." in parts:
        raise PathRefused(f"path {_shown(rel)} refused: '..' is not allowed")
    _refuse_git(parts, rel)
    return parts


def _refuse_git(parts: tuple[str, ...], rel: str) -> None:
    if any(p.casefold() == ".git" for p in parts):
        raise PathRefused(f"path {_shown(rel)} refused: nothing under .git/ may be touched")


def confine(root: Path, rel: str) -> Path:
    """Resolve a project-relative path to a path under `root`, or raise PathRefused.

    Refused: empty names, NUL bytes, absolute paths, any `..`, anything named `.git` (any case,
    at any depth), and paths whose resolution passes through a symlink that leaves `root`.
    Symlinks that stay inside are followed, so the result names the file that would be written.
    """
    parts = _parts(rel)
    base = root.resolve()
    current = base
    for name in parts:
        current = current / name
        try:
            if current.is_symlink():
                current = current.resolve()
        except (OSError, RuntimeError) as exc:  # a name too long, a loop of links: no file can be there
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "a loop of symlinks"
            raise PathRefused(f"path {_shown(rel)} refused: {reason.lower()}") from None
        if current != base and not current.is_relative_to(base):
            raise PathRefused(f"path {_shown(rel)} refused: it leads outside the project through a symlink")
    inside = current.relative_to(base)
    if not inside.parts:
        raise PathRefused(f"path {_shown(rel)} names the project itself, not a file")
    _refuse_git(inside.parts, rel)
    return root / inside


def relative(root: Path, rel: str) -> str:
    """The confined path as a canonical posix path relative to `root`."""
    return PurePosixPath(*confine(root, rel).relative_to(root).parts).as_posix()


def unlinked(root: Path, rel: str) -> Path:
    """`root/rel` for replacing what stands there: the path is checked like `confine`'s, and every folder on the
    way must be a real folder (or missing), never a link, so nothing is written anywhere but at that name."""
    parts = _parts(rel)
    current = root
    for name in parts[:-1]:
        current = current / name
        try:
            mode = current.lstat().st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise PathRefused(f"path {_shown(rel)} refused: {(exc.strerror or str(exc)).lower()}") from None
        if not stat.S_ISDIR(mode):
            what = "a symlink" if stat.S_ISLNK(mode) else "not a folder"
            raise PathRefused(f"path {_shown(rel)} refused: {current.relative_to(root).as_posix()} is {what}")
    return root.joinpath(*parts)
