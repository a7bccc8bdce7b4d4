"""Damaged diffs: each applies byte for byte, or is refused with the tree untouched (a table, then properties)."""

from __future__ import annotations

import difflib
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sandbox.patch import apply_payload
from sandbox.patch.indent import kinds
from tests.support.damage import tabs_to_spaces

BEFORE = """use std::fmt;

/// Monday of the week that holds `day`.
pub fn adjust_to_monday(day: u32) -> u32 {
    let offset = day % 7;

    day - offset
}

pub struct Report {
    pub rows: Vec<i64>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rows", self.rows.len())
    }
}

pub fn total(values: &[i64]) -> i64 {
    let mut sum = 0;
    for v in values {
        sum += v;
    }

    sum
}
""".replace("let mut sum = 0;", "let mut sum = 0;  ")  # trailing spaces that chat UIs strip

AFTER = (
    BEFORE.replace("    day - offset\n", "    day.saturating_sub(offset)\n")
    .replace("        sum += v;\n", "        sum += *v;\n        // wrapping is fine here\n")
)


def unified(before: str, after: str, path: str = "src/lib.rs") -> str:
    return unified_lines(before.splitlines(), after.splitlines(), path)


def unified_lines(before: list[str], after: list[str], path: str = "src/lib.rs") -> str:
    lines = difflib.unified_diff(before, after, f"a/{path}", f"b/{path}", lineterm="")
    return "\n".join(lines) + "\n"


def _each_header(diff: str, make: Callable[[re.Match[str]], str]) -> str:
    return re.sub(r"(?m)^@@ -(\d+),(\d+) \+(\d+),(\d+) @@", make, diff)


def _fenced(diff: str) -> str:
    return f"Sure! This fixes both functions:\n\n```diff\n{diff}```\n\nRun `cargo test` afterwards."


DAMAGES: dict[str, Callable[[str], str]] = {
    "clean": lambda d: d,
    "wrong line numbers": lambda d: _each_header(d, lambda m: f"@@ -{int(m[1]) + 40},{m[2]} +{int(m[3]) + 40},{m[4]} @@"),
    "no line numbers (bare @@)": lambda d: _each_header(d, lambda m: "@@"),
    "no line numbers (@@ ... @@)": lambda d: _each_header(d, lambda m: "@@ ... @@"),
    "wrong hunk counts": lambda d: _each_header(d, lambda m: f"@@ -{m[1]},2 +{m[3]},30 @@"),
    "blank context lines stripped": lambda d: re.sub(r"(?m)^ $", "", d),
    "trailing spaces stripped": lambda d: re.sub(r"(?m)^( .*?)[ \t]+$", r"\1", d),
    "CRLF payload": lambda d: d.replace("\n", "\r\n"),
    "final newline missing": lambda d: d.rstrip("\n"),
    "fenced with prose": _fenced,
    "prose without a fence": lambda d: f"Here is the patch:\n{d}\nThat should do it.",
    "bare paths, no a/ b/": lambda d: d.replace("--- a/", "--- ").replace("+++ b/", "+++ "),
    "git headers": lambda d: "diff --git a/src/lib.rs b/src/lib.rs\nindex 3b18e51..a9c2f07 100644\n" + d,
    "everything at once": lambda d: _fenced(
        re.sub(r"(?m)^( .*?)[ \t]+$", r"\1", re.sub(r"(?m)^ $", "", _each_header(d, lambda m: "@@")))
    ).replace("\n", "\r\n").rstrip("\r\n"),
}


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def project(tmp_path: Path, text: str, path: str = "src/lib.rs") -> Path:
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode())
    return tmp_path


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_diff_applies_exactly(tmp_path: Path, damage: str) -> None:
    root = project(tmp_path, BEFORE)
    result = apply_payload(root, DAMAGES[damage](unified(BEFORE, AFTER)))
    assert result.ok, result.error
    assert (root / "src/lib.rs").read_bytes() == AFTER.encode()
    assert result.changed == ["src/lib.rs"]


def test_headerless_hunks_go_to_the_commands_file(tmp_path: Path) -> None:
    root = project(tmp_path, BEFORE)
    body = "".join(unified(BEFORE, AFTER).splitlines(keepends=True)[2:])
    result = apply_payload(root, f"```diff\n{body}```", default_path="src/lib.rs")
    assert result.ok, result.error
    assert (root / "src/lib.rs").read_bytes() == AFTER.encode()


TABBED_BEFORE = BEFORE.replace("    ", "\t")
TABBED_AFTER = AFTER.replace("    ", "\t")


@pytest.mark.parametrize("damage", ["clean", "tabs turned into spaces", "tabs turned into spaces, no line numbers"])
def test_tab_indented_file_survives_a_renderer_that_expands_tabs(tmp_path: Path, damage: str) -> None:
    root = project(tmp_path, TABBED_BEFORE)
    diff = unified(TABBED_BEFORE, TABBED_AFTER)
    if damage != "clean":
        diff = tabs_to_spaces(diff)
        assert "\t" not in "".join(line for line in diff.splitlines() if line.startswith(" "))
    if damage.endswith("no line numbers"):
        diff = DAMAGES["no line numbers (bare @@)"](diff)
    result = apply_payload(root, _fenced(diff))
    assert result.ok, result.error
    assert (root / "src/lib.rs").read_bytes() == TABBED_AFTER.encode()


@pytest.mark.parametrize("damage", ["clean", "everything at once"])
def test_crlf_file_stays_crlf(tmp_path: Path, damage: str) -> None:
    root = project(tmp_path, BEFORE.replace("\n", "\r\n"))
    result = apply_payload(root, DAMAGES[damage](unified(BEFORE, AFTER)))
    assert result.ok, result.error
    assert (root / "src/lib.rs").read_bytes() == AFTER.replace("\n", "\r\n").encode()


@pytest.mark.parametrize("damage", ["clean", "final newline missing", "everything at once"])
def test_missing_final_newline_is_kept(tmp_path: Path, damage: str) -> None:
    before, after = BEFORE.rstrip("\n"), AFTER.rstrip("\n")
    root = project(tmp_path, before)
    result = apply_payload(root, DAMAGES[damage](unified(before, after)))
    assert result.ok, result.error
    assert (root / "src/lib.rs").read_bytes() == after.encode()


def test_explicit_no_newline_marker_removes_the_final_newline(tmp_path: Path) -> None:
    root = project(tmp_path, "a\nb\nc\n")
    payload = "--- a/x\n+++ b/x\n@@ -2,2 +2,2 @@\n b\n-c\n+d\n\\ No newline at end of file\n"
    result = apply_payload(root, payload.replace("a/x", "a/src/lib.rs").replace("b/x", "b/src/lib.rs"))
    assert result.ok, result.error
    assert (root / "src/lib.rs").read_bytes() == b"a\nb\nd"


SECOND_HUNK_BROKEN = unified(BEFORE, AFTER).replace("     for v in values {", "     for value in values {")

REFUSALS: dict[str, tuple[str, str, str]] = {
    # name: (file text, payload, words the error must hold)
    "context that is not in the file": (
        BEFORE,
        unified(BEFORE.replace("let offset", "let shift"), AFTER.replace("let offset", "let shift")),
        "hunk 1 of src/lib.rs does not match the file",
    ),
    "second hunk does not match (first must not be applied alone)": (
        BEFORE,
        SECOND_HUNK_BROKEN,
        "hunk 2 of src/lib.rs does not match the file",
    ),
    "removed line differs": (BEFORE, unified(BEFORE.replace("sum += v;", "sum -= v;"), AFTER), "does not match"),
    "already applied": (AFTER, unified(BEFORE, AFTER), "already applied"),
    "ambiguous without line numbers": (
        "fn a() {\n    let x = 1;\n    x += 1;\n}\n\nfn b() {\n    let x = 1;\n    x += 1;\n}\n",
        "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n     let x = 1;\n-    x += 1;\n+    x += 2;\n }\n",
        "matches 2 places",
    ),
    "file does not exist": (BEFORE, unified(BEFORE, AFTER, "src/missing.rs"), "src/missing.rs does not exist"),
    "elided lines inside a fenced diff, the part after them placed twice": (
        "fn a() {\n    x += 1;\n}\n\nfn b() {\n    x += 1;\n}\n",
        "```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n fn a() {\n...\n-    x += 1;\n+    x += 2;\n```",
        "matches 2 places",
    ),
    "a line that is no diff line inside a fenced diff": (
        BEFORE,
        "```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n pub fn total(values: &[i64]) -> i64 {\nsee below\n"
        "-        sum += v;\n+        sum += *v;\n```",
        "neither a header nor a hunk line",
    ),
    "binary patch": (BEFORE, "diff --git a/logo.png b/logo.png\nGIT binary patch\nliteral 12\nabc\n", "binary patches are not supported"),
    "NUL bytes in the payload": (BEFORE, unified(BEFORE, AFTER) + "\0\0", "NUL bytes"),
    "nothing recognisable": (BEFORE, "Looks good to me, ship it!", "no edit found"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusal_leaves_the_tree_byte_for_byte(tmp_path: Path, case: str) -> None:
    text, payload, words = REFUSALS[case]
    root = project(tmp_path, text)
    (root / "README.md").write_bytes(b"# demo\r\n")
    before = snapshot(root)
    result = apply_payload(root, payload)
    assert not result.ok
    assert words in (result.error or "")
    assert snapshot(root) == before


def test_refusal_names_the_hunk_and_the_closest_place(tmp_path: Path) -> None:
    root = project(tmp_path, BEFORE)
    result = apply_payload(root, SECOND_HUNK_BROKEN)
    assert not result.ok
    assert result.hunk is not None and "+        sum += *v;" in result.hunk
    assert result.closest is not None
    assert "first difference at line 22" in result.closest
    assert "hunk expects:     for value in values {" in result.closest
    assert "file has:         for v in values {" in result.closest
    assert "   21 |     let mut sum = 0;  " in result.closest


# Property tests -------------------------------------------------------------------------------

UNIQUE_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHAPES = ["{n}", "    {n}", "\t{n}", "        {n} = {n};", "    {n}  ", "  \t{n}();", ""]


@st.composite
def unique_file(draw: st.DrawFn) -> list[str]:
    """Lines that never repeat (blank lines apart, never two in a row, never first or last)."""
    count = draw(st.integers(min_value=3, max_value=40))
    shapes = draw(st.lists(st.sampled_from(SHAPES), min_size=count, max_size=count))
    lines = [shape.format(n=f"item_{i}") for i, shape in enumerate(shapes)]
    for i in range(1, len(lines)):
        if lines[i] == "" and lines[i - 1] == "":
            lines[i] = f"item_{i}"
    lines[0] = lines[0] or "first"
    lines[-1] = lines[-1] or "last"
    return lines


@st.composite
def edited(draw: st.DrawFn, lines: list[str], fresh: bool) -> list[str]:
    """`lines` after a few random insertions, deletions and replacements."""
    out = list(lines)
    indent = "\t" if kinds(lines) == {"tab"} else "    "  # a writer adds lines in the file's indentation
    for op in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(out)))
        cut = draw(st.integers(min_value=0, max_value=min(3, len(out) - at)))
        size = draw(st.integers(min_value=0 if cut else 1, max_value=3))
        if fresh:
            new = [f"{indent}added_{op}_{k}();" for k in range(size)]
        else:
            new = draw(st.lists(st.sampled_from(REPEATING), min_size=size, max_size=size))
        out[at : at + cut] = new
    return out


def _text(lines: list[str], newline: bool) -> str:
    return "".join(f"{line}\n" for line in lines) if newline else "\n".join(lines)


def _applied(lines: list[str], edits: list[str], payload: str, newline: bool) -> tuple[bool, bytes, bytes, bytes]:
    """Apply `payload` to a fresh tree holding `lines`; return ok, the result, the original and the intended bytes."""
    before, after = _text(lines, newline), _text(edits, newline)
    assume(before and (newline or all(not x or x[-1] for x in (lines, edits))))  # else "no final newline" means nothing
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp), before)
        (root / "README.md").write_text("untouched\n")
        result = apply_payload(root, payload)
        if not result.ok:
            assert snapshot(root) == {"README.md": b"untouched\n", "src/lib.rs": before.encode()}
        return result.ok, (root / "src/lib.rs").read_bytes(), before.encode(), after.encode()


@UNIQUE_SETTINGS
@given(data=st.data(), damage=st.sampled_from(list(DAMAGES)), tabs=st.booleans(), newline=st.booleans())
def test_difflib_diff_of_unique_lines_applies_exactly_after_any_damage(data: st.DataObject, damage: str, tabs: bool, newline: bool) -> None:
    lines = data.draw(unique_file())
    edits = data.draw(edited(lines, fresh=True))
    assume(edits != lines)
    payload = unified_lines(lines, edits)
    payload = DAMAGES[damage](tabs_to_spaces(payload) if tabs else payload)
    ok, result, _, intended = _applied(lines, edits, payload, newline)
    assert ok
    assert result == intended


REPEATING = ["", "{", "}", "    x += 1;", "\tx += 1;", "    y();  ", "let a = 1;", "fn f() {"]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), damage=st.sampled_from(list(DAMAGES)), newline=st.booleans())
def test_diff_on_repetitive_files_applies_exactly_or_refuses_cleanly(data: st.DataObject, damage: str, newline: bool) -> None:
    lines = data.draw(st.lists(st.sampled_from(REPEATING), min_size=1, max_size=30))
    edits = data.draw(edited(lines, fresh=False))
    assume(edits != lines)
    ok, result, original, intended = _applied(lines, edits, DAMAGES[damage](unified_lines(lines, edits)), newline)
    assert result == (intended if ok else original)


@UNIQUE_SETTINGS
@given(data=st.data())
def test_search_replace_of_any_unique_slice_applies_exactly(data: st.DataObject) -> None:
    lines = data.draw(unique_file())
    start = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    stop = data.draw(st.integers(min_value=start + 1, max_value=min(len(lines), start + 6)))
    search = lines[start:stop]
    assume(any(line.strip() for line in search))
    replacement = data.draw(st.lists(st.sampled_from(["    changed();", "", "\tother = 2;", *search]), max_size=5))
    assume(replacement != search)
    edits = lines[:start] + replacement + lines[stop:]
    payload = "src/lib.rs\n```rust\n<<<<<<< SEARCH\n" + "".join(f"{s}\n" for s in search) + "=======\n"
    payload += "".join(f"{r}\n" for r in replacement) + ">>>>>>> REPLACE\n```\n"
    ok, result, original, intended = _applied(lines, edits, payload, True)
    if len(replacement) > len(search) and lines[start : start + len(replacement)] == replacement:
        # The longer new block already stands where the old one matches: an append that would go in
        # twice, refused as already applied (sandbox/patch/hunks.py, rule 5).
        assert not ok and result == original
    else:
        assert ok and result == intended


PIECES = [*"@+- \n\t`<>=/abcx{}.:\r\0", "--- a/src/lib.rs\n", "+++ b/src/lib.rs\n", "@@\n", "```diff\n", "```\n", "    x += 1;\n", "}\n"]


@settings(max_examples=200, deadline=None)
@given(payload=st.lists(st.sampled_from(PIECES)).map("".join))
def test_refused_payloads_never_change_the_tree(payload: str) -> None:
    lines = ["fn a() {", "    x += 1;", "}", "", "fn b() {", "    y();", "}"]
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp), "\n".join(lines) + "\n")
        before = snapshot(root)
        result = apply_payload(root, payload)
        if not result.ok:
            assert snapshot(root) == before
            assert result.error
