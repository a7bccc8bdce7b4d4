"""A bridge in its own OS process (tests/reliability/bridge_entry.py): start, SIGKILL, stop, find its browser,
and make sure nothing it started outlives it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bridge.chat.footprint import argv as cmdline, descendants

ROOT = Path(__file__).resolve().parents[2]
ENTRY = Path(__file__).with_name("bridge_entry.py")


Proc = tuple[int, str]
"""A process as (pid, start time): a pid the system has reused for another process never matches."""


def _started(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _identify(pids: list[int]) -> list[Proc]:
    return [(pid, _started(pid)) for pid in pids]


def _alive(proc: Proc) -> bool:
    pid, started = proc
    try:
        return _started(pid) == started and "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


class BridgeProcess:
    """`bridge_entry.py` in its own OS process (and session), its output appended to a log file."""

    def __init__(self, url: str, env: dict[str, str], output: Path, *, human_wait: float | None = None) -> None:
        self.url = url
        self.env = env
        self.output = output
        self.human_wait = human_wait
        self.proc: subprocess.Popen[bytes] | None = None
        self.orphans = 0

    def start(self, crash_at: str | None = None) -> None:
        argv = [sys.executable, str(ENTRY), "--url", self.url]
        if self.human_wait is not None:
            argv += ["--human-wait", str(self.human_wait)]
        if crash_at is not None:
            argv += ["--crash-at", crash_at]
        with self.output.open("ab") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout: float) -> int:
        """Wait for the process to end by itself (a crash point), then for what it left behind."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        below: list[Proc] = []
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.proc.args, timeout)
            below = self._tree or below
            time.sleep(0.1)
        self._reap(below)
        return self.proc.returncode

    @property
    def _tree(self) -> list[Proc]:
        return _identify(descendants(self.proc.pid)) if self.proc is not None else []

    def kill(self) -> None:
        """SIGKILL the bridge process itself, as a crash would; its browser is left to end on its own."""
        assert self.proc is not None
        below = self._tree
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._reap(below)

    def _reap(self, procs: list[Proc], grace: float = 10.0) -> None:
        """Wait for what the process left behind to end; SIGKILL and count what outlives `grace` as orphans."""
        deadline = time.monotonic() + grace
        while any(_alive(p) for p in procs) and time.monotonic() < deadline:
            time.sleep(0.1)
        for proc in procs:
            if _alive(proc):
                self.orphans += 1
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc[0], signal.SIGKILL)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait for a clean exit (SIGKILL when it does not come)."""
        if not self.alive:
            return
        assert self.proc is not None
        below = self._tree
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._reap(below)

    def browser_pid(self) -> int | None:
        """The browser's main process (Chromium without a `--type=` switch) below the bridge."""
        for pid, _ in self._tree:
            args = cmdline(pid)
            if args and "chrom" in Path(args[0]).name and not any(a.startswith("--type=") for a in args):
                return pid
        return None
