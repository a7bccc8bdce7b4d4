"""`bridge.heap.freeze_startup`: reference cycles a long run leaves behind wait for a full collection; with the bridge's
start-up frozen they wait for about one browser context's worth, not a quarter of everything loaded at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A bridge process in miniature: the bridge's modules loaded (the start-up), then browser contexts renewed one after
# the other. A context's objects live in cycles for as long as it does (as Playwright's do) and are garbage once it
# closes; each page load also leaves short-lived cycles (futures, callbacks) that the young collections take. Prints
# the most objects of closed contexts that were still waiting for the collector at any page load.
RUN = """
import gc, sys
import bridge.cli, bridge.session, bridge.wiring, bridge.chat.playwright_driver
from bridge.heap import freeze_startup
if sys.argv[1] == "frozen":
    freeze_startup()

class Held:
    alive = 0
    def __init__(self, context):
        Held.alive += 1
        self.context = context
        self.headers = {"owner": self, "raw": [("name", "value")]}
    def __del__(self):
        Held.alive -= 1

PER_LOAD, LOADS = 20, 100
waiting, live = 0, []
for renewal in range(20):
    context = []
    for load in range(LOADS):
        context += [Held(context) for _ in range(PER_LOAD)]
        for _ in range(600):
            young = {"next": None}
            young["next"] = [young]
        waiting = max(waiting, Held.alive - len(context) - PER_LOAD * LOADS * len(live))
    live = [context]
    del context
print(waiting)
"""
CONTEXT = 20 * 100  # the objects of one browser context in RUN


def waiting_objects(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", RUN, mode], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    return int(out.stdout.split()[-1])


def test_cycles_of_closed_contexts_wait_for_one_context_at_most_once_startup_is_frozen() -> None:
    frozen, not_frozen = waiting_objects("frozen"), waiting_objects("as loaded")
    assert frozen <= CONTEXT, f"{frozen} objects of closed contexts waited for the collector"
    assert not_frozen > 2 * CONTEXT  # without the freeze (about six contexts here): the run measures what it should
