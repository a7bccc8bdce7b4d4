"""Patch cycle: apply + compile + test through the executor, against plain cargo in a built copy.

Both sides start warm (already built) and make the same edit each round, so each round costs one
incremental rebuild and one test run. Rounds alternate between the two sides; the figure is the
ratio of medians.

    .venv/bin/python benchmarks/patch_cycle.py [--rounds 8] [--isolation bwrap|auto|none]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.example import copy_example  # noqa: E402
from sandbox.cargo import RunLimits, cargo_env  # noqa: E402
from sandbox.config import SandboxConfig  # noqa: E402
from sandbox.local import LocalExecutor  # noqa: E402
from sandbox.operations import ApplyRequest, CheckCompileRequest, CheckTestRequest, StatusRequest  # noqa: E402
from sandbox.logs import setup_logging  # noqa: E402

FILE = "src/report.rs"


def variants(text: str) -> tuple[str, str, str]:
    """The line to toggle and its two versions (a changed comment still forces a rebuild)."""
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("pub fn "))
    return line, line, line + " // edited"


def payload(old: str, new: str) -> str:
    return f"{FILE}\n```rust\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n```\n"


def cargo(args: list[str], cwd: Path, target: Path) -> None:
    subprocess.run(["cargo", "--offline", *args], cwd=cwd, env=cargo_env(target), check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--isolation", choices=["bwrap", "auto", "none"], default="bwrap")
    args = parser.parse_args()
    setup_logging("WARNING")

    with tempfile.TemporaryDirectory(prefix="devspace-bench-") as tmp:
        base = Path(tmp)
        project = copy_example(base / "project")
        direct = copy_example(base / "direct")
        executor = LocalExecutor(project, SandboxConfig(home=base / "home", limits=RunLimits(isolation=args.isolation)))
        direct_target = base / "direct-target"
        line, a, b = variants((project / FILE).read_text())

        # warm both sides
        assert executor.run(CheckCompileRequest()).ok and executor.run(CheckTestRequest()).ok
        cargo(["build", "--all-targets"], direct, direct_target)
        cargo(["test", "--no-fail-fast"], direct, direct_target)

        ours: list[float] = []
        plain: list[float] = []
        current = a
        for _ in range(args.rounds):
            new = b if current == a else a
            start = time.perf_counter()
            applied = executor.run(ApplyRequest(payload=payload(current, new)))
            compiled = executor.run(CheckCompileRequest())
            tested = executor.run(CheckTestRequest())
            ours.append(time.perf_counter() - start)
            assert applied.ok and compiled.ok and tested.ok, (applied.error, compiled.error, tested.error)

            start = time.perf_counter()
            path = direct / FILE
            path.write_text(path.read_text().replace(current, new, 1))
            cargo(["build", "--all-targets"], direct, direct_target)
            cargo(["test", "--no-fail-fast"], direct, direct_target)
            plain.append(time.perf_counter() - start)
            current = new

        isolation = executor.run(StatusRequest()).isolation
        m_ours, m_plain = statistics.median(ours), statistics.median(plain)
        print(f"patch cycle on {FILE} ({args.rounds} rounds, isolation={isolation}, edit: {line.strip()[:50]!r})")
        print(f"{'':24}{'median s':>10}{'min s':>10}{'max s':>10}")
        print(f"{'executor (apply+build+test)':24}{m_ours:>10.3f}{min(ours):>10.3f}{max(ours):>10.3f}")
        print(f"{'plain cargo build+test':24}{m_plain:>10.3f}{min(plain):>10.3f}{max(plain):>10.3f}")
        print(f"ratio executor/plain (medians): {m_ours / m_plain:.2f}  (goal <= 1.3)")


if __name__ == "__main__":
    main()
