"""Crashes at the exact points random kills rarely hit: the bridge process SIGKILLs itself there, is
restarted, and every command must still have run once, been answered once and left its effect once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.reliability.audit import Sent, audit, settle
from tests.reliability.harness import Rig, marker_patch

pytestmark = [pytest.mark.reliability, pytest.mark.browser, pytest.mark.cargo]

TWO_FILES = (
    "@agent code improvement\n```diff\n"
    "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -3,1 +3,2 @@\n pub mod log;\n+// marker 71\n"
    "--- a/src/log.rs\n+++ b/src/log.rs\n@@ -1,1 +1,2 @@\n"
    " //! Tagged log lines on stderr: `#INFO: …` always, `#DEBUG: …` only when `TRADE_REPORT_DEBUG` is set.\n+// marker 72\n"
    "```\n"
)

# (crash point, what the developer types: (text, verb, effect) in order)
SCENARIOS: dict[str, list[tuple[str, str, str | None]]] = {
    "after-git-commit": [
        (marker_patch(61), "code improvement", "// marker 61"),
        ("@agent commit [msg: crash commit 61]", "commit", "crash commit 61"),
    ],
    "mid-git-commit": [
        (marker_patch(62), "code improvement", "// marker 62"),
        ("@agent commit [msg: crash commit 62]", "commit", "crash commit 62"),
        (marker_patch(63), "code improvement", "// marker 63"),
        ("@agent commit [msg: crash commit 63]", "commit", "crash commit 63"),
    ],
    "after-post": [("@agent status", "status", None), ("@agent help", "help", None)],
    "mid-multi-file-write": [
        (TWO_FILES, "code improvement", "// marker 71"),
        ("@agent code get path=src/log.rs", "code get", None),
    ],
}


@pytest.mark.parametrize("point", list(SCENARIOS))
def test_a_crash_at_an_exact_point_repeats_and_loses_nothing(make_rig: Callable[..., Rig], point: str) -> None:
    rig = make_rig()
    process = rig.process()
    process.start(crash_at=point)
    try:
        rig.wait_attached()
        sent = [Sent(msg_id=rig.say(text), verb=verb, effect=effect) for text, verb, effect in SCENARIOS[point]]
        assert process.wait_exit(timeout=90) == -9, f"the crash at {point} did not happen"
        process.start()
        settle(rig, sent, timeout=90)
    finally:
        process.stop()
    result = audit(sent, rig)
    print(f"\n{point}: {result.line()}")
    assert result.problems == []
    assert (result.executed, result.duplicated, result.lost) == (len(sent), 0, 0)
    if point == "mid-multi-file-write":
        assert (rig.tree / "src/log.rs").read_text().count("// marker 72") == 1  # the second file was written too
        assert not list(rig.tree.rglob(".*.tmp"))  # no staged file left in the workspace
    assert process.orphans == 0
    assert rig.secret_hits() == {}
