"""The roles' scene of `devspace demo`: a stand-in LLM answers the critic and the tester, so the demo
needs no account and no key; the developer asks the critic for a review, then the tester for a test
while critics are allowed (the critic reviews the tester's patch), then commits it (authored by the tester)."""

from __future__ import annotations

from pydantic import SecretStr

from bridge.config import Settings
from bridge.mockllm import FakeLLM, RecordedRequest
from bridge.prompts import CRITIC, TESTER
from sandbox.executor import Executor
from sandbox.operations import FilesRequest

MODEL = "stand-in"
KEY = SecretStr("demo-stand-in")
"""Not a secret: the stand-in accepts any key."""

REVIEW = """\
- `adjust_to_monday` now computes the offset with `rem_euclid(7)`, so dates before 1970 (negative day
  counts) still land on a Monday; a test with a date before 1970 would pin that.
- The comment "three days after a Monday" is the whole proof of the constant `3`: worth keeping next to
  `weekday()`, which uses the same offset."""

TEST_REVIEW = """\
- The new test covers a week that starts in December and ends in January; the week that starts on
  New Year's Day itself (2024-01-01 was a Monday) is the other edge and is not covered."""

TESTER_ANSWER = """\
Adds a test with trades in the week of 2024-12-30, which crosses into 2025, and in the next week.

```diff
--- a/src/tests/task/aggr_trades.rs
+++ b/src/tests/task/aggr_trades.rs
@@ -73,6 +73,19 @@
     }
 
     #[test]
+    fn aggr_trades_week_crosses_a_year() {
+        // 2024-12-30 is a Monday; 2025-01-03 is the Friday of the same week.
+        let out = aggr_trades(&trades(
+            "1,AAPL,buy,1,10,2024-12-31\\n2,AAPL,buy,2,10,2025-01-03\\n3,AAPL,buy,4,10,2025-01-06",
+        ));
+        let weeks: Vec<(String, usize)> =
+            out.iter().map(|a| (a.week.to_string(), a.trades)).collect();
+        assert_eq!(
+            weeks,
+            [("2024-12-30".to_string(), 2), ("2025-01-06".to_string(), 1)]
+        );
+    }
+
+    #[test]
     fn aggr_trades_groups_by_symbol_sorted() {
         let out = aggr_trades(&trades(
             "1,MSFT,buy,1,10,2025-07-08\\n2,AAPL,buy,2,10,2025-07-08\\n3,msft,sell,1,10,2025-07-09",
```
"""


def answer(request: RecordedRequest) -> str:
    """The stand-in's answer, by the role whose system prompt the request carries."""
    system = str(request.messages[0].get("content", "")) if request.messages else ""
    if system == TESTER:
        return TESTER_ANSWER
    if system == CRITIC:
        return TEST_REVIEW if "Review this patch" in request.prompt else REVIEW
    return "The demo's stand-in LLM answers only the critic and the tester."


def start_standin(settings: Settings) -> FakeLLM:
    """Start the stand-in and point the critic and the tester at it (the other roles keep their configuration)."""
    server = FakeLLM(rule=answer, model=MODEL).start()
    settings.roles = {
        **settings.roles,
        **{name: settings.roles[name].model_copy(update={"base_url": server.base_url, "model": MODEL, "api_key": KEY}) for name in ("critic", "tester")},
    }
    return server


def role_steps(executor: Executor) -> list[tuple[str, str]]:
    """The developer's messages of the scene, each with the mark of the bot's post that ends its step."""
    ids = {entry.path: entry.file_id for entry in executor.run(FilesRequest())}
    return [
        (f"@critic file_id={ids['src/date.rs']}", "@critic (stand-in) on file_id="),
        (
            (
                "Cover the year boundary in the aggregation tests. #critics_allowed\n"
                f"@tester file_id={ids['src/tests/task/aggr_trades.rs']} #aggr_trades [cover weeks that cross a year]"
            ),
            "@critic (stand-in) on the patch",
        ),
        ("@agent commit [msg: Тест: неделя на границе года]", "Committed "),
    ]
