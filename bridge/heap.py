"""The interpreter's heap in a bridge process that stays attached for hours."""

from __future__ import annotations

import gc


def freeze_startup() -> None:
    """Collect, then take every object alive after start-up (modules, classes, settings, the orchestrator; about
    130,000 objects) out of the cyclic garbage collector's counts and scans (`gc.freeze`).

    CPython runs a full collection only once the objects that survived two younger collections reach a quarter of
    those that survived the last full one. With the start-up objects counted that is some 30,000 objects, and the
    reference cycles a long run leaves waited for it: Playwright's objects for every page load of a closed browser
    context (a Request, Responses, their channels), minutes of them, which the interpreter's arenas grew to hold.
    Frozen, the start-up objects no longer count: a full collection comes once a few thousand objects wait, and
    costs less. Call it once, after start-up and before the run loop.
    """
    gc.collect()
    gc.freeze()
    gc.collect()  # the collector's count of long-lived objects is reset to those not frozen (none yet)
