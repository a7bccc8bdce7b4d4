"""Bubblewrap isolation: no network, a read-only system, writable binds only where a build writes."""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from loguru import logger

PROBE_TIMEOUT = 20.0

# Namespaces and hardening that every isolated run gets. The child runs as PID 1 of its own PID
# namespace, so when bwrap dies (--die-with-parent) every process inside dies with it.
_BASE = (
    "--unshare-net",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def bwrap_argv(
    argv: Sequence[str], *, cwd: Path, writable: Sequence[Path], hidden: Sequence[Path] = (), bwrap: str = "bwrap"
) -> list[str]:
    """`argv` wrapped in bwrap: `/` read-only, private /tmp, fresh /dev and /proc, `hidden` folders replaced by
    empty ones (secrets such as the DevSpace home), `writable` bound read-write (also inside a hidden folder)."""
    cmd = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in hidden:
        if path.is_dir():
            cmd += ["--tmpfs", str(path.resolve())]
    for path in writable:  # after the tmpfs mounts, so binds below them stay visible
        cmd += ["--bind", str(path), str(path)]
    return [*cmd, *_BASE, "--chdir", str(cwd), "--", *argv]


@functools.cache
def isolation_available() -> bool:
    """Whether bwrap exists and can set up the full sandbox here (checked once per process)."""
    bwrap = bwrap_path()
    if bwrap is None:
        logger.warning("isolation: bwrap not found, cargo runs unisolated")
        return False
    try:
        probe = subprocess.run(
            bwrap_argv(["true"], cwd=Path("/"), writable=[], bwrap=bwrap),
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning(f"isolation: bwrap probe failed: {exc}")
        return False
    if probe.returncode != 0:
        reason = probe.stderr.decode(errors="replace").strip()[:300]
        logger.warning(f"isolation: bwrap cannot build the sandbox here (exit {probe.returncode}): {reason}")
        return False
    return True
