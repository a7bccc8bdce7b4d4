"""Exactly once across crashes: a scripted session against the mock chat while the bridge process is SIGKILLed.

Counting: *executed* is a command whose journal row finished `done` (its effect completed and its
reply was queued in the same transaction); *posted* is a reply that shows in the chat; *duplicated*
is a command that was recorded twice, answered twice or left its effect (patch line, git commit)
twice; *lost* is a command with no finished row, no reply in the chat or no effect. A command cut
off mid-way by a kill is resumed after the restart: a read-only one (a check, a file read) simply
runs again, which is counted as a re-run and is not a duplicate of an effect; a patch or a commit
resumes from its recorded stage and must leave its effect exactly once.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

import pytest

from tests.reliability.chaos import run_chaos
from tests.reliability.harness import Rig

pytestmark = [pytest.mark.reliability, pytest.mark.browser, pytest.mark.cargo]

COMMANDS = 34
KILLS = 11


def test_every_command_runs_and_is_answered_exactly_once_across_sigkills(make_rig: Callable[..., Rig]) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(10**6))
    print(f"\nchaos seed {seed} (CHAOS_SEED={seed} repeats this run)")
    rig = make_rig()
    report = run_chaos(rig, commands=COMMANDS, kills=KILLS, seed=seed)
    print("\n" + "\n".join(report.lines()))
    audit = report.audit
    assert (report.kills, report.restarts) == (KILLS, KILLS)
    assert audit.problems == [], f"seed {seed}: {audit.problems}"
    assert (audit.sent, audit.executed, audit.duplicated, audit.lost) == (COMMANDS, COMMANDS, 0, 0), report.lines()
    assert audit.posted == len(rig.journal.outbox()) >= COMMANDS  # every reply shows, once
    assert report.orphans == 0  # a killed bridge leaves no browser or sandbox process behind
    assert report.secret_hits == {}
