#!/usr/bin/env python3
"""Start-up cost of the `devspace` commands: wall time of a fresh process, median of several runs.

Measures `devspace --help`, `devspace apply` of a one-line patch to a small tree, and the sandbox's
`serve --help`, each as `python -m bridge.cli …` from a checkout (this one, or `--checkout DIR` to
measure others side by side, e.g. a worktree of an older commit; runs alternate between them).
Prints one line per command.

    python benchmarks/startup.py [--runs 7] [--checkout DIR ...]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
PATCH = "```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-pub fn one() -> i32 { 1 }\n+pub fn one() -> i32 { 2 - 1 }\n```\n"


def wall(argv: list[str], cwd: Path, stdin: str | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, input=stdin, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed in {cwd}: {done.stderr[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--checkout", type=Path, action="append", help="another checkout to measure (default: this one)")
    args = parser.parse_args()
    checkouts = args.checkout or [HERE]
    with tempfile.TemporaryDirectory(prefix="devspace-startup-") as tmp:
        tree = Path(tmp)
        cli = [sys.executable, "-m", "bridge.cli"]
        commands = {
            "devspace --help": (cli + ["--help"], None),
            "devspace apply (one line)": (cli + ["apply", "--root", str(tree), "-"], PATCH),
            "devspace sandbox serve --help": (cli + ["sandbox", "serve", "--help"], None),
        }
        print(f"{'command':32} " + " ".join(f"{c.resolve().name[:22]:>22}" for c in checkouts) + "   (median wall seconds)")
        (tree / "src").mkdir()
        for name, (argv, stdin) in commands.items():
            times: dict[Path, list[float]] = {checkout: [] for checkout in checkouts}
            for _ in range(args.runs):
                for checkout in checkouts:
                    (tree / "src" / "lib.rs").write_text("pub fn one() -> i32 { 1 }\n")
                    times[checkout].append(wall(argv, checkout, stdin))
            print(f"{name:32} " + " ".join(f"{statistics.median(t):22.3f}" for t in times.values()))


if __name__ == "__main__":
    main()
