"""Patches for src/date.rs of the example crate: the seed's optimisation of adjust_to_monday, and a broken one."""

GOOD = """\
--- a/src/date.rs
+++ b/src/date.rs
@@ -97,7 +97,3 @@
 pub fn adjust_to_monday(date: Date) -> Date {
-    let mut day = date;
-    while day.weekday() != Weekday::Mon {
-        day = day.add_days(-1);
-    }
-    day
+    date.add_days(-(date.weekday() as i64))
 }
"""

BROKEN = """\
--- a/src/date.rs
+++ b/src/date.rs
@@ -97,7 +97,3 @@
 pub fn adjust_to_monday(date: Date) -> Date {
-    let mut day = date;
-    while day.weekday() != Weekday::Mon {
-        day = day.add_days(-1);
-    }
-    day
+    date.add_days(date.weekday())
 }
"""

MISPLACED = """\
--- a/src/date.rs
+++ b/src/date.rs
@@ -97,3 +97,3 @@
 pub fn adjust_to_sunday(date: Date) -> Date {
-    let mut day = date;
+    let day = date;
"""
