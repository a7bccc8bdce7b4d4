"""A pids cgroup per run: the most processes and threads one check's whole process tree may hold.

RLIMIT_NPROC does not bind root, and a PID namespace has no size, so a fork bomb in a build script
is held by the pids controller. Groups are made where it is mounted writable: the cgroup v1 `pids`
hierarchy, or the cgroup v2 root with `pids` delegated. Where none can be made (a container with a
read-only /sys/fs/cgroup, a user without rights) runs go on without it, after one warning: the
check's timeout still ends them, and a container's own pids limit applies (see docker-compose.yml).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
import time
from pathlib import Path

from loguru import logger

ROOT = Path("/sys/fs/cgroup")
PARENT = "devspace"
KILL_TRIES = 100

_numbers = itertools.count(1)


class RunGroup:
    """One run's cgroup: a child joins it by writing its pid to `procs`; `close` kills what is left and removes it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    def close(self) -> None:
        for _ in range(KILL_TRIES):
            pids = _members(self.path)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        with contextlib.suppress(OSError):
            self.path.rmdir()


def _members(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _writable_parent(base: Path) -> Path:
    """`base/devspace`, made (with pids handed down on cgroup v2) and checked with a probe group; OSError if not allowed."""
    parent = base / PARENT
    parent.mkdir(exist_ok=True)
    if base == ROOT:
        (parent / "cgroup.subtree_control").write_text("+pids")
    probe = parent / f"probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        (probe / "pids.max").write_text("8")
    finally:
        probe.rmdir()
    return parent


def _sweep(parent: Path) -> None:
    """Empty and remove the groups of processes that died without closing them (a crashed bridge's strays)."""
    for group in parent.glob("run-*"):
        owner = group.name.split("-")[1]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            RunGroup(group).close()


@functools.cache
def _parent() -> Path | None:
    v1, v2 = ROOT / "pids", ROOT
    candidates = [v1] if (v1 / "cgroup.procs").exists() else []
    if "pids" in _read(v2 / "cgroup.subtree_control").split():
        candidates.append(v2)
    for base in candidates:
        try:
            parent = _writable_parent(base)
        except OSError as exc:
            logger.debug(f"pids cgroup under {base}: {exc}")
            continue
        _sweep(parent)
        return parent
    logger.warning("no writable pids cgroup: a build's process count is bounded only by its timeout")
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def pids_available() -> bool:
    """Whether runs here can be given a process limit."""
    return _parent() is not None


def run_group(max_pids: int) -> RunGroup | None:
    """A fresh group allowing `max_pids` processes and threads, or None where no group can be made."""
    parent = _parent()
    if parent is None:
        return None
    path = parent / f"run-{os.getpid()}-{next(_numbers)}"
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(max_pids))
    except OSError as exc:
        logger.warning(f"cannot make the run's pids cgroup: {exc}")
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return RunGroup(path)
