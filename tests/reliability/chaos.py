"""The chaos run: a scripted session typed into the mock chat while the bridge process is SIGKILLed at random."""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

from tests.reliability.audit import Audit, Sent, audit, settle
from tests.reliability.harness import Rig, marker_patch


class Step(BaseModel):
    """What the developer types, the command's verb, and the effect it must leave once (patch line, commit message)."""

    text: str
    verb: str
    effect: str | None = None


READS = [
    Step(text="@agent help", verb="help"),
    Step(text="@agent status", verb="status"),
    Step(text="@agent code files", verb="code files"),
    Step(text="@agent code files #date", verb="code files"),
    Step(text="@agent code get path=src/lib.rs", verb="code get"),
    Step(text="@agent code get file_id=1", verb="code get"),
    Step(text="@agent code sandwich file_id=1,2", verb="code sandwich"),
    Step(text="@agent check compile", verb="check compile"),
    Step(text="@agent code test #aggr_trades", verb="code test"),
    Step(text="@agent check logic #date", verb="check test"),  # the alias: recorded by its canonical name
    Step(text="@agent check degradation", verb="check degradation"),
]


def session_plan(commands: int, rng: Any) -> list[Step]:
    """`commands` steps: mostly cheap reads, a marker patch every fourth step, every eighth a commit of the patches so far."""
    plan: list[Step] = []
    patches = commits = 0
    while len(plan) < commands:
        if len(plan) % 4 == 3:
            patches += 1
            plan.append(Step(text=marker_patch(patches), verb="code improvement", effect=f"// marker {patches}"))
        elif len(plan) % 8 == 5 and patches > commits:
            commits = patches
            plan.append(Step(text=f"@agent commit [msg: chaos commit {commits}]", verb="commit", effect=f"chaos commit {commits}"))
        else:
            plan.append(rng.choice(READS))
    return plan


class ChaosReport(BaseModel):
    """One chaos run: the audit, how often the bridge was killed and restarted, where the kills landed."""

    seed: int
    audit: Audit
    kills: int = 0
    restarts: int = 0
    landed: dict[str, int] = Field(default_factory=dict)
    orphans: int = 0
    secret_hits: dict[str, int] = Field(default_factory=dict)

    def lines(self) -> list[str]:
        where = ", ".join(f"{n} {k}" for k, n in sorted(self.landed.items(), key=lambda kv: -kv[1]))
        return [
            f"seed {self.seed}: {self.audit.line()}",
            f"kills {self.kills}, restarts {self.restarts}, processes left behind {self.orphans}, secret hits {sum(self.secret_hits.values())}",
            f"kills landed: {where}",
        ]


def run_chaos(rig: Rig, *, commands: int, kills: int, seed: int, max_delay: float = 3.0, drain_timeout: float = 180.0) -> ChaosReport:
    """Type a scripted session while SIGKILLing the bridge process at random moments, then audit it.

    After each kill the next command is typed while the bridge is down half of the time.
    """
    rng = random.Random(seed)
    plan = session_plan(commands, rng)
    kill_at = set(rng.sample(range(0, len(plan) - 1, 2), kills))
    landed: Counter[str] = Counter()
    sent: list[Sent] = []
    process = rig.process()
    report = ChaosReport(seed=seed, audit=Audit())
    process.start()
    try:
        rig.wait_attached()
        for i, step in enumerate(plan):
            sent.append(Sent(msg_id=rig.say(step.text), verb=step.verb, effect=step.effect))
            if not process.alive:
                process.start()
                report.restarts += 1
            elif i in kill_at:
                time.sleep(rng.uniform(0.0, max_delay))
                landed[rig.journal.in_flight()] += 1
                process.kill()
                report.kills += 1
                if rng.random() < 0.5:
                    continue  # the next command is typed while the bridge is down
                process.start()
                report.restarts += 1
            else:
                time.sleep(rng.uniform(0.1, 1.0))
        if not process.alive:
            process.start()
            report.restarts += 1
        settle(rig, sent, drain_timeout)
    finally:
        process.stop()
    report.audit = audit(sent, rig)
    report.landed = dict(landed)
    report.orphans = process.orphans
    report.secret_hits = rig.secret_hits()
    return report
