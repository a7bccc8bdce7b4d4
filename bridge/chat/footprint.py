"""How much memory the browser the bridge launched takes: its processes and Playwright's driver, found below this
process in /proc (Linux). Elsewhere the footprint is unknown and no ceiling applies."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PROC = Path("/proc")
MIB = 1024 * 1024
BROWSER_NAMES = ("chrom", "headless_shell")
"""A process of the browser: its executable's name contains one of these (chromium, chrome, chrome-headless-shell)."""


def _parents() -> dict[int, int]:
    out: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                out[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return out


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def argv(pid: int) -> list[str]:
    """A process's command line; [] for a process gone."""
    with contextlib.suppress(OSError):
        return [a.decode(errors="replace") for a in (PROC / str(pid) / "cmdline").read_bytes().split(b"\0") if a]
    return []


def is_browser_side(argv: list[str]) -> bool:
    """A browser process, or Playwright's driver (`node … run-driver`)."""
    if not argv:
        return False
    name = Path(argv[0]).name
    return any(mark in name for mark in BROWSER_NAMES) or (name.startswith("node") and "run-driver" in argv)


def rollup_bytes(pid: int, field: str) -> int:
    """One field of the process's /proc smaps_rollup in bytes; 0 for a process gone."""
    with contextlib.suppress(OSError, ValueError):
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size: shared pages split between their users (also other programs mapping the same files)."""
    return rollup_bytes(pid, "Pss")


def anonymous_bytes(pid: int) -> int:
    """Anonymous memory: the heaps and stacks the process itself grows, whoever else runs the same binaries."""
    return rollup_bytes(pid, "Anonymous")


def browser_mib(root: int | None = None) -> float | None:
    """PSS in MiB of the browser processes and Playwright drivers below `root` (default: this process); None where
    /proc cannot say."""
    if not (PROC / "self" / "smaps_rollup").exists():
        return None
    below = descendants(os.getpid() if root is None else root)
    return sum(pss_bytes(pid) for pid in below if is_browser_side(argv(pid))) / MIB
