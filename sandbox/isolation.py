"""Bubblewrap isolation: a sandbox that holds only what a build needs, with no network and no way out.

Nothing of the host is visible unless it is bound in: the system's programs and libraries (`/usr`
and the `/bin`, `/lib*` links), the few files of `/etc` that linking needs, and whatever the caller
binds (the toolchain, the dependency sources, the workspace). Everything else (`/root`, `/home`,
the DevSpace home, the project checkout, `/run` and its sockets, other projects) does not exist
inside. The root is read-only; `/tmp` is a fresh, private scratch area per run. The sandbox has its
own user, PID, network, IPC and UTS namespaces, no capabilities, and cannot make user namespaces.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from loguru import logger
from pydantic import BaseModel

PROBE_TIMEOUT = 20.0

SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Top-level folders that merged-/usr systems make links into /usr (bound as folders elsewhere)."""
SYSTEM_ETC = ("/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")
"""What of /etc a compiler and linker read: the `cc` alternative and the dynamic loader's cache."""

# Namespaces and hardening that every isolated run gets. The command runs under bwrap's own PID 1,
# so when it ends or bwrap dies (--die-with-parent) every process inside dies with it.
_BASE = (
    "--unshare-user",
    "--unshare-net",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--hostname",
    "sandbox",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
)


class Mount(BaseModel):
    """One thing the sandbox sees at `dest`: a host path bound read-only or writable, a fresh tmpfs, or a symlink."""

    kind: Literal["ro", "rw", "tmpfs", "symlink"]
    dest: Path
    source: str | None = None

    @classmethod
    def ro(cls, source: Path, dest: Path | None = None) -> Mount:
        return cls(kind="ro", source=str(source), dest=dest or source)

    @classmethod
    def rw(cls, source: Path, dest: Path | None = None) -> Mount:
        return cls(kind="rw", source=str(source), dest=dest or source)

    @classmethod
    def tmpfs(cls, dest: Path) -> Mount:
        return cls(kind="tmpfs", dest=dest)

    def args(self) -> list[str]:
        match self.kind:
            case "ro":
                return ["--ro-bind", str(self.source), str(self.dest)]
            case "rw":
                return ["--bind", str(self.source), str(self.dest)]
            case "tmpfs":
                return ["--tmpfs", str(self.dest)]
            case "symlink":
                return ["--symlink", str(self.source), str(self.dest)]


def system_mounts() -> list[Mount]:
    """The host's programs and libraries, read-only: /usr, the /bin and /lib* links (or folders), the loader's files of
    /etc, and a generated /etc/hosts, nsswitch.conf, passwd and group (localhost resolves, the user has a name)."""
    mounts = [Mount.ro(Path("/usr"))]
    for name in SYSTEM_LINKS:
        path = Path(name)
        if path.is_symlink():
            mounts.append(Mount(kind="symlink", source=str(path.readlink()), dest=path))
        elif path.is_dir():
            mounts.append(Mount.ro(path))
    mounts += [Mount.ro(Path(p)) for p in SYSTEM_ETC if Path(p).exists()]
    mounts += [Mount.ro(source, Path("/etc") / source.name) for source in sandbox_etc().iterdir()]
    return mounts


@functools.cache
def sandbox_etc() -> Path:
    """The sandbox's own small /etc files, written once per process (nothing of the host's users or names)."""
    uid, gid = os.getuid(), os.getgid()
    users = "root:x:0:0:root:/tmp:/bin/sh\n" + (f"builder:x:{uid}:{gid}:builder:/tmp:/bin/sh\n" if uid else "")
    groups = "root:x:0:\n" + (f"builder:x:{gid}:\n" if gid else "")
    files = {
        "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
        "passwd": users,
        "group": groups,
    }
    folder = Path(tempfile.mkdtemp(prefix="devspace-sandbox-etc-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for name, text in files.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o644)
    folder.chmod(0o755)
    return folder


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def bwrap_argv(argv: Sequence[str], mounts: Sequence[Mount], *, cwd: Path, bwrap: str = "bwrap") -> list[str]:
    """`argv` wrapped in bwrap, seeing only the system and `mounts` (plus fresh /proc, /dev and /tmp).

    Mounts are made parents first (a bind inside a tmpfs comes after it), the root is then made
    read-only, and the command starts in `cwd` (a path inside the sandbox).
    """
    ordered = sorted([*system_mounts(), Mount.tmpfs(Path("/tmp")), *mounts], key=lambda m: len(m.dest.parts))
    cmd = [bwrap, "--proc", "/proc", "--dev", "/dev"]
    for mount in ordered:
        cmd += mount.args()
    cmd += ["--remount-ro", "/", *_BASE]
    if _supports("--disable-userns", bwrap):
        cmd.append("--disable-userns")
    return [*cmd, "--chdir", str(cwd), "--", *argv]


@functools.cache
def _supports(option: str, bwrap: str) -> bool:
    """Whether this bwrap knows `option` (0.8 added --disable-userns)."""
    try:
        shown = subprocess.run([bwrap, "--help"], capture_output=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option.encode() in shown.stdout + shown.stderr


@functools.cache
def isolation_available() -> bool:
    """Whether bwrap exists and can set up the full sandbox here (checked once per process)."""
    bwrap = bwrap_path()
    if bwrap is None:
        logger.warning("isolation: bwrap not found")
        return False
    try:
        probe = subprocess.run(
            bwrap_argv(["true"], [], cwd=Path("/"), bwrap=bwrap),
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            stdin=subprocess.DEVNULL,
            env={},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning(f"isolation: bwrap probe failed: {exc}")
        return False
    if probe.returncode != 0:
        reason = probe.stderr.decode(errors="replace").strip()[:300]
        logger.warning(f"isolation: bwrap cannot build the sandbox here (exit {probe.returncode}): {reason}")
        return False
    return True
