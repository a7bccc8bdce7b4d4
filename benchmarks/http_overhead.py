"""Per-call overhead of the HTTP executor against the in-process one, measured side by side.

One LocalExecutor on a temp git copy of the example crate serves both sides: called directly, and
through the REST service (uvicorn on a loopback port) by `HttpExecutor`. Rounds alternate between
the two so both see the same workspace, build cache and machine load. Prints, per operation, the
median time per call on each side, the HTTP/in-process ratio and the overhead in milliseconds:

- `get_code`: one file read (the smallest call: almost all of it is transport);
- check cycle: apply a patch + check_compile + check_test (undone, untimed, after each round).

    python benchmarks/http_overhead.py [--calls 300] [--cycles 6]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from loguru import logger

import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

from bridge.example import copy_example  # noqa: E402
from sandbox.client import HttpExecutor  # noqa: E402
from sandbox.config import SandboxConfig  # noqa: E402
from sandbox.executor import Executor  # noqa: E402
from sandbox.local import LocalExecutor  # noqa: E402
from sandbox.operations import (  # noqa: E402
    ApplyRequest,
    CheckCompileRequest,
    CheckTestRequest,
    FilesRequest,
    GetCodeRequest,
    UndoRequest,
)
from sandbox.service import create_app  # noqa: E402
from sandbox.serving import BackgroundServer  # noqa: E402
from tests.support import patches  # noqa: E402

def cycle(executor: Executor) -> None:
    assert executor.run(ApplyRequest(payload=patches.GOOD)).ok
    assert executor.run(CheckCompileRequest()).ok
    assert executor.run(CheckTestRequest(filter="adjust_to_monday")).ok


def side_by_side(local: Executor, remote: Executor, op: Callable[[Executor], object], rounds: int,
                 reset: Callable[[], object] | None = None) -> tuple[float, float]:
    """Median seconds per call of `op`, alternating in-process and HTTP rounds."""
    here: list[float] = []
    there: list[float] = []
    for _ in range(rounds):
        for executor, times in ((local, here), (remote, there)):
            started = time.perf_counter()
            op(executor)
            times.append(time.perf_counter() - started)
            if reset is not None:
                reset()
    return statistics.median(here), statistics.median(there)


def report(name: str, here: float, there: float, unit: float, unit_name: str) -> None:
    print(
        f"{name:<28} in-process {here / unit:9.1f} {unit_name}   HTTP {there / unit:9.1f} {unit_name}   "
        f"ratio {there / here:6.2f}x   overhead {(there - here) * 1000:7.2f} ms/call"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="get_code rounds per side")
    parser.add_argument("--cycles", type=int, default=6, help="check-cycle rounds per side")
    args = parser.parse_args()
    logger.remove()
    with tempfile.TemporaryDirectory(prefix="devspace-bench-") as tmp:
        root = Path(tmp)
        local = LocalExecutor(copy_example(root / "trade_report"), SandboxConfig(home=root / "home"))
        token = secrets.token_urlsafe(24)
        with BackgroundServer(create_app(local, token)) as server:
            remote = HttpExecutor(server.url, token)
            date_id = next(e.file_id for e in local.run(FilesRequest()) if e.path == "src/date.rs")
            read = GetCodeRequest(file_id=date_id)
            cycle(local)  # warm the build cache: both sides then rebuild the same increment
            local.run(UndoRequest())
            for executor in (local, remote):
                executor.run(read)

            here, there = side_by_side(local, remote, lambda ex: ex.run(read), args.calls)
            report("get_code", here, there, 1e-6, "us")
            here, there = side_by_side(local, remote, cycle, args.cycles, reset=lambda: local.run(UndoRequest()))
            report("apply+compile+test cycle", here, there, 1e-3, "ms")
            remote.close()
        local.close()
    print(f"({args.calls} get_code and {args.cycles} check-cycle rounds per side, medians; loopback HTTP, one machine)")


if __name__ == "__main__":
    main()
