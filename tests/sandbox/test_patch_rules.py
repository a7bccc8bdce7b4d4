"""The placement rule: unique exact match first, tolerant only when unique, line numbers only break ties."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.errors import PatchRefused
from sandbox.patch import apply_payload, plan_payload


def make(tmp_path: Path, text: str) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_bytes(text.encode())
    return tmp_path


def diff(*hunks: str) -> str:
    return "--- a/src/lib.rs\n+++ b/src/lib.rs\n" + "".join(hunks)


def content(root: Path) -> str:
    return (root / "src" / "lib.rs").read_bytes().decode()


def numbered(count: int, **overrides: str) -> list[str]:
    lines = [f"line {i}" for i in range(1, count + 1)]
    for key, value in overrides.items():
        lines[int(key[1:]) - 1] = value
    return lines


REPEATED = "\n".join(numbered(30, l5="{", l6="    step();", l7="}", l20="{", l21="    step();", l22="}")) + "\n"
STEP_HUNK = "@@ -{start},3 +{start},3 @@\n {{\n-    step();\n+    step_twice();\n }}\n"


def test_line_number_breaks_an_exact_tie(tmp_path: Path) -> None:
    root = make(tmp_path, REPEATED)
    result = apply_payload(root, diff(STEP_HUNK.format(start=20)))
    assert result.ok, result.error
    lines = content(root).splitlines()
    assert lines[5] == "    step();" and lines[20] == "    step_twice();"


def test_line_number_that_sits_on_no_candidate_refuses(tmp_path: Path) -> None:
    root = make(tmp_path, REPEATED)
    result = apply_payload(root, diff(STEP_HUNK.format(start=12)))
    assert not result.ok
    assert "matches 2 places (exact, starting at lines 5, 20); its line number does not pick one" in (result.error or "")
    assert content(root) == REPEATED


def test_ties_are_shifted_by_the_previous_hunks_drift(tmp_path: Path) -> None:
    text = "\n".join(numbered(40, l3="alpha", l4="beta", l15="{", l16="    step();", l17="}", l30="{", l31="    step();", l32="}")) + "\n"
    first = "@@ -6,2 +6,2 @@\n alpha\n-beta\n+gamma\n"  # really at line 3: drift -3
    root = make(tmp_path, text)
    result = apply_payload(root, diff(first, STEP_HUNK.format(start=18)))  # 18 - 3 = 15: the first block
    assert result.ok, result.error
    lines = content(root).splitlines()
    assert lines[3] == "gamma" and lines[15] == "    step_twice();" and lines[30] == "    step();"


def test_exact_match_wins_over_tolerant_ones(tmp_path: Path) -> None:
    text = "fn a() {\n\tfoo();\n}\n\nfn b() {\n    foo();\n}\n"
    root = make(tmp_path, text)
    result = apply_payload(root, diff("@@\n-    foo();\n+    bar();\n }\n"))
    assert result.ok, result.error
    assert content(root) == "fn a() {\n\tfoo();\n}\n\nfn b() {\n    bar();\n}\n"


def test_tolerant_match_must_be_unique(tmp_path: Path) -> None:
    text = "fn a() {\n\tfoo();\n}\n\nfn b() {\n    foo();\n}\n"
    root = make(tmp_path, text)
    result = apply_payload(root, diff("@@\n-  foo();\n+  bar();\n }\n"))
    assert not result.ok
    assert "matches 2 places (whitespace-tolerant" in (result.error or "")
    assert content(root) == text


def test_tolerant_match_keeps_the_files_whitespace_and_indents_added_lines_its_way(tmp_path: Path) -> None:
    text = "fn a() {\n\tlet x = 1;   \n\tx\n}\n"
    root = make(tmp_path, text)
    result = apply_payload(root, diff("@@\n fn a() {\n     let x = 1;\n-    x\n+    x + 1\n }\n"))
    assert result.ok, result.error
    assert content(root) == "fn a() {\n\tlet x = 1;   \n\tx + 1\n}\n"


def test_hunks_out_of_file_order_apply_where_each_matches_once(tmp_path: Path) -> None:
    text = "\n".join(numbered(20)) + "\n"
    root = make(tmp_path, text)
    late = "@@ -15,2 +15,2 @@\n line 15\n-line 16\n+LINE 16\n"
    early = "@@ -3,2 +3,2 @@\n line 3\n-line 4\n+LINE 4\n"
    result = apply_payload(root, diff(late, early))
    assert result.ok, result.error
    assert content(root) == text.replace("line 16\n", "LINE 16\n").replace("line 4\n", "LINE 4\n")


def test_a_hunk_out_of_order_that_matches_twice_is_refused(tmp_path: Path) -> None:
    """In file order the one match after the previous hunk is the diff's reading; out of order there is none."""
    text = "\n".join(numbered(20, l3="same", l12="same")) + "\n"
    root = make(tmp_path, text)
    in_order = diff("@@\n line 1\n-line 2\n+LINE 2\n", "@@\n same\n-line 4\n+LINE 4\n")
    late_first = diff("@@\n line 15\n-line 16\n+LINE 16\n", "@@\n-same\n+SAME\n")
    result = apply_payload(root, late_first)
    assert not result.ok and "matches 2 places" in (result.error or "")
    assert content(root) == text
    assert apply_payload(root, in_order).ok
    assert content(root) == text.replace("line 2\n", "LINE 2\n").replace("line 4\n", "LINE 4\n")


def test_hunks_sharing_context_lines_both_apply(tmp_path: Path) -> None:
    text = "\n".join(numbered(10)) + "\n"
    root = make(tmp_path, text)
    one = "@@ -2,3 +2,3 @@\n line 2\n-line 3\n+LINE 3\n line 4\n"
    two = "@@ -4,2 +4,2 @@\n line 4\n-line 5\n+LINE 5\n"
    result = apply_payload(root, diff(one, two))
    assert result.ok, result.error
    assert content(root) == text.replace("line 3\n", "LINE 3\n").replace("line 5\n", "LINE 5\n")


@pytest.mark.parametrize(
    ("one", "two", "why"),
    [
        ("@@\n line 2\n-line 3\n+LINE 3\n line 4\n", "@@\n-line 3\n+THREE\n line 4\n", "both claim line 3"),
        ("@@\n line 2\n line 3\n+new\n line 4\n", "@@\n line 3\n line 4\n-line 5\n", "adds lines inside hunk 2"),
        ("@@\n line 2\n+a\n line 3\n-line 4\n", "@@\n line 1\n line 2\n+b\n line 3\n", "both add lines before line 3"),
    ],
)
def test_hunks_that_overlap_where_one_changes_the_other_are_refused(tmp_path: Path, one: str, two: str, why: str) -> None:
    text = "\n".join(numbered(10)) + "\n"
    root = make(tmp_path, text)
    result = apply_payload(root, diff(one, two))
    assert not result.ok and why in (result.error or "")
    assert content(root) == text


def test_a_context_only_hunk_beside_real_ones_is_skipped_where_it_matches(tmp_path: Path) -> None:
    text = "\n".join(numbered(10)) + "\n"
    root = make(tmp_path, text)
    result = apply_payload(root, diff("@@\n line 1\n line 2\n", "@@\n line 5\n-line 6\n+LINE 6\n"))
    assert result.ok, result.error
    assert content(root) == text.replace("line 6\n", "LINE 6\n")
    stale = apply_payload(root, diff("@@\n line 1\n line two\n", "@@\n line 7\n-line 8\n+LINE 8\n"))
    assert not stale.ok and "changes nothing" in (stale.error or "") and "does not match" in (stale.error or "")


def test_every_hunk_of_a_long_patch_is_applied(tmp_path: Path) -> None:
    """The older applier's failure: the second hunk silently dropped while success was reported."""
    text = "\n".join(numbered(60)) + "\n"
    root = make(tmp_path, text)
    hunks = [f"@@ -{n},3 +{n},3 @@\n line {n}\n-line {n + 1}\n+LINE {n + 1}\n line {n + 2}\n" for n in (5, 25, 45)]
    result = apply_payload(root, diff(*hunks))
    assert result.ok, result.error
    assert [line for line in content(root).splitlines() if line.startswith("LINE")] == ["LINE 6", "LINE 26", "LINE 46"]


def test_a_middle_hunk_that_fails_refuses_the_whole_patch(tmp_path: Path) -> None:
    text = "\n".join(numbered(60)) + "\n"
    root = make(tmp_path, text)
    hunks = [f"@@ -{n},3 +{n},3 @@\n line {n}\n-line {n + 1}\n+LINE {n + 1}\n line {n + 2}\n" for n in (5, 25, 45)]
    hunks[1] = hunks[1].replace(" line 25\n", " line twenty-five\n")
    result = apply_payload(root, diff(*hunks))
    assert not result.ok
    assert (result.error or "").startswith("hunk 2 of src/lib.rs does not match")
    assert content(root) == text


def test_partly_applied_patch_is_refused_as_already_applied(tmp_path: Path) -> None:
    text = "\n".join(numbered(40, l6="LINE 6")) + "\n"
    root = make(tmp_path, text)
    hunks = [f"@@ -{n},3 +{n},3 @@\n line {n}\n-line {n + 1}\n+LINE {n + 1}\n line {n + 2}\n" for n in (5, 25)]
    result = apply_payload(root, diff(*hunks))
    assert not result.ok
    assert "hunk 1 of src/lib.rs is already applied" in (result.error or "")
    assert content(root) == text


def test_an_append_at_the_end_is_not_applied_twice(tmp_path: Path) -> None:
    root = make(tmp_path, "a\nb\nc\n")
    payload = diff("@@ -2,2 +2,3 @@\n b\n c\n+d\n")
    assert apply_payload(root, payload).ok
    again = apply_payload(root, payload)
    assert not again.ok and "already applied" in (again.error or "")
    assert content(root) == "a\nb\nc\nd\n"


def test_a_hunk_without_context_is_placed_only_in_an_empty_file(tmp_path: Path) -> None:
    root = make(tmp_path, "a\nb\n")
    result = apply_payload(root, diff("@@ -1,0 +1,1 @@\n+first\n"))
    assert not result.ok and "no context or removed lines" in (result.error or "")
    (root / "src" / "lib.rs").write_bytes(b"")
    assert apply_payload(root, diff("@@ -0,0 +1,1 @@\n+first\n")).ok
    assert content(root) == "first\n"


def test_a_hunk_that_changes_nothing_is_refused(tmp_path: Path) -> None:
    root = make(tmp_path, "a\nb\n")
    with pytest.raises(PatchRefused, match="changes nothing"):
        plan_payload(root, diff("@@\n a\n b\n"))


def test_line_endings_of_untouched_lines_are_kept(tmp_path: Path) -> None:
    root = make(tmp_path, "one\r\ntwo\nthree\r\nfour\r\n")
    result = apply_payload(root, diff("@@\n two\n-three\n+THREE\n+3\n four\n"))
    assert result.ok, result.error
    assert (root / "src" / "lib.rs").read_bytes() == b"one\r\ntwo\nTHREE\r\n3\r\nfour\r\n"


def test_byte_order_mark_is_kept(tmp_path: Path) -> None:
    root = make(tmp_path, "\ufeffa\nb\nc\n")
    result = apply_payload(root, diff("@@\n a\n-b\n+B\n c\n"))
    assert result.ok, result.error
    assert (root / "src" / "lib.rs").read_bytes() == "\ufeffa\nB\nc\n".encode()
