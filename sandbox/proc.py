"""Run a child process with a deadline, a process-group kill, an output cap and resource limits."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel

from sandbox import cgroup

DRAIN_GRACE = 2.0
"""Seconds to keep reading after the child is gone, for output still in the pipes."""
TAIL_SHARE = 4
"""One part in TAIL_SHARE of the cap keeps the end of each stream, where the verdicts are."""

# Resource limits go through a tiny shell prologue rather than `preexec_fn`, which is unsafe in
# threaded programs (the executor service runs requests on worker threads). It joins the run's
# pids cgroup (when there is one) before anything else starts, so the whole tree is counted.
_PROLOGUE = (
    'ulimit -c 0 && if [ "$1" != none ]; then ulimit -v "$1"; fi'
    ' && if [ "$2" != none ]; then echo $$ > "$2"; fi && shift 2 && exec "$@"'
)


class ProcResult(BaseModel):
    """How a child process ended and what it printed (capped)."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    dropped: int = 0
    duration: float = 0.0

    @property
    def truncated(self) -> bool:
        return self.dropped > 0


def clean_env(keep: Iterable[str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's values of the `keep` names only, plus `extra`: nothing else leaks to the child."""
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(extra or {})
    return env


class _Capture:
    """Keeps the first bytes of all streams together and the last bytes of each, counting the rest."""

    def __init__(self, cap: int, names: Sequence[str]) -> None:
        tail_total = cap // TAIL_SHARE
        self._head_left = cap - tail_total
        self._tail_size = tail_total // max(1, len(names))
        self._head = {name: bytearray() for name in names}
        self._tail = {name: bytearray() for name in names}
        self._dropped = dict.fromkeys(names, 0)

    def feed(self, name: str, data: bytes) -> None:
        if self._head_left > 0 and not self._tail[name]:
            take = data[: self._head_left]
            self._head[name] += take
            self._head_left -= len(take)
            data = data[len(take) :]
        if not data:
            return
        tail = self._tail[name]
        tail += data
        excess = len(tail) - self._tail_size
        if excess > 0:
            del tail[:excess]
            self._dropped[name] += excess

    @property
    def dropped(self) -> int:
        return sum(self._dropped.values())

    def text(self, name: str) -> str:
        head, tail, dropped = bytes(self._head[name]), bytes(self._tail[name]), self._dropped[name]
        if dropped:
            cut = tail.find(b"\n") + 1  # the tail starts mid-line: drop that partial line too
            dropped += cut
            tail = tail[cut:]
            head += f"\n[... {dropped} bytes of output dropped ...]\n".encode()
        return (head + tail).decode("utf-8", errors="replace")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the child has ended, without reaping it: its pid, and so its group id, stay reserved."""
    return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    output_cap: int,
    memory_mb: int | None = None,
    max_pids: int | None = None,
    merge_stderr: bool = False,
) -> ProcResult:
    """Run `argv` in its own process group; on timeout kill the whole group.

    With `max_pids`, the whole tree runs in a pids cgroup of that size (where one can be made), and
    whatever is left in it afterwards is killed, even processes that left the process group.
    With `merge_stderr` both streams share one pipe, so their relative order is kept (stderr is "").
    """
    group = cgroup.run_group(max_pids) if max_pids else None
    try:
        return _run(argv, cwd, env, timeout, output_cap, memory_mb, str(group.procs) if group else "none", merge_stderr)
    finally:
        if group is not None:
            group.close()


def _run(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    output_cap: int,
    memory_mb: int | None,
    procs: str,
    merge_stderr: bool,
) -> ProcResult:
    limit = str(memory_mb * 1024) if memory_mb else "none"
    names = ("stdout",) if merge_stderr else ("stdout", "stderr")
    capture = _Capture(output_cap, names)
    started = time.monotonic()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", _PROLOGUE, "sh", limit, procs, *argv],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        start_new_session=True,
    )
    streams = {proc.stdout: "stdout"} if merge_stderr else {proc.stdout: "stdout", proc.stderr: "stderr"}
    timed_out = False
    deadline = started + timeout
    drain_until: float | None = None
    with selectors.DefaultSelector() as sel:
        for stream, name in streams.items():
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
            sel.register(stream, selectors.EVENT_READ, name)
        while sel.get_map():
            now = time.monotonic()
            if drain_until is None:
                if now >= deadline:
                    timed_out = True
                if timed_out or _exited(proc):
                    _kill_group(proc)  # also ends strays the finished child left behind
                    drain_until = now + DRAIN_GRACE
            elif now >= drain_until:
                break
            for key, _ in sel.select(timeout=0.1):
                data = os.read(key.fd, 65536)
                if data:
                    capture.feed(key.data, data)
                else:
                    sel.unregister(key.fileobj)
    for stream in streams:
        assert stream is not None
        stream.close()
    _kill_group(proc)  # the child is still unreaped here, so its group id cannot belong to anyone else
    returncode = proc.wait()
    return ProcResult(
        argv=list(argv),
        returncode=returncode,
        stdout=capture.text("stdout"),
        stderr="" if merge_stderr else capture.text("stderr"),
        timed_out=timed_out,
        dropped=capture.dropped,
        duration=time.monotonic() - started,
    )
