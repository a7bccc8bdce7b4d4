"""Chaos figures: a long scripted session against the mock chat while the bridge process is SIGKILLed at
random moments, then the hostile-input table, then a scan of everything the runs wrote for the planted
secrets. Uses the reliability suite's own machinery (tests/reliability), with bigger numbers.

    .venv/bin/python benchmarks/chaos.py [--commands 100] [--kills 30] [--seed N]

"executed": a command whose journal row finished `done` (its effect completed, its reply queued with it).
"duplicated": recorded, answered or applied twice. "lost": never finished, never answered, or no effect.
Read-only checks cut off by a kill run again after the restart; they are counted apart as re-runs.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.logs import setup_logging  # noqa: E402
from tests.reliability.chaos import run_chaos  # noqa: E402
from tests.reliability.conftest import WORLDS  # noqa: E402
from tests.reliability.harness import ChatServer, Rig  # noqa: E402
from tests.reliability.hostile import CASES, World, problems  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=100)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    setup_logging("ERROR")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    root = WORLDS / f"bench-{uuid.uuid4().hex[:12]}"
    root.mkdir(parents=True)
    try:
        started = time.monotonic()
        with ChatServer() as chat:
            report = run_chaos(Rig(root / "chaos", chat), commands=args.commands, kills=args.kills, seed=seed, drain_timeout=600)
        chaos_seconds = time.monotonic() - started
        world = World(root / "hostile")
        failed = {case.name: found for case in CASES if (found := problems(world, case))}
        audit = report.audit
        print(f"chaos session: {audit.sent} commands, {report.kills} SIGKILLs of the bridge process, seed {seed}, {chaos_seconds:.0f}s")
        print(f"  executed {audit.executed}, posted {audit.posted}, duplicated {audit.duplicated}, lost {audit.lost}")
        print(f"  kills {report.kills}, restarts {report.restarts}, processes left behind {report.orphans}")
        print(f"  read-only checks re-run after a kill {audit.read_only_reruns}, effects resumed from their stage {audit.resumed_effects}")
        print(f"  {report.lines()[-1].strip()}")
        for problem in audit.problems:
            print(f"  problem: {problem}")
        print(f"hostile cases passed: {len(CASES) - len(failed)}/{len(CASES)}")
        for name, found in failed.items():
            print(f"  {name}: {'; '.join(found)}")
        where = ", ".join(report.secret_hits) or "none"
        print(f"secret hits: {sum(report.secret_hits.values())} (planted LLM key and session cookie; every chat post, log file and journal row searched; found in: {where})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
