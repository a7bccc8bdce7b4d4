"""Every edit carrier a chat payload may hold, and the fenced blocks that must not be taken as edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.errors import PatchRefused, PathRefused
from sandbox.patch import plan_payload

LIB = "pub fn adjust_to_monday(day: u32) -> u32 {\n    let offset = day % 7;\n    day - offset\n}\n"
FIXED = "pub fn adjust_to_monday(day: u32) -> u32 {\n    let offset = day % 7;\n    day.saturating_sub(offset)\n}\n"
LONG = "".join(f"pub fn f{i}() -> u32 {{\n    {i}\n}}\n\n" for i in range(12))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_text(LIB)
    (tmp_path / "src" / "long.rs").write_text(LONG)
    return tmp_path


def planned(root: Path, payload: str, **kwargs: object) -> dict[str, str | None]:
    return {c.path: c.after for c in plan_payload(root, payload, **kwargs)}  # type: ignore[arg-type]


SR = "<<<<<<< SEARCH\n    day - offset\n=======\n    day.saturating_sub(offset)\n>>>>>>> REPLACE"


@pytest.mark.parametrize(
    "payload",
    [
        f"src/lib.rs\n```rust\n{SR}\n```",
        f"Change this:\n**src/lib.rs**:\n\n```rust\n{SR}\n```",
        f"```rust src/lib.rs\n{SR}\n```",
        f"```rust\nsrc/lib.rs\n{SR}\n```",
        f"src/lib.rs\n{SR}\n",
        f"Here:\n\nsrc/lib.rs\n{SR}\n\nDone.",
    ],
)
def test_search_replace_blocks(root: Path, payload: str) -> None:
    assert planned(root, payload) == {"src/lib.rs": FIXED}


@pytest.mark.parametrize(
    "sentence",
    [
        "Change this in `src/lib.rs`:",
        "Updated `src/lib.rs`:",
        "Here is the full `src/lib.rs` (nothing else changes):",
        "**Here's the updated src/lib.rs:**",
        "In **src/lib.rs**:",
    ],
)
def test_a_sentence_ending_in_a_colon_that_names_one_path_is_a_label(root: Path, sentence: str) -> None:
    assert planned(root, f"{sentence}\n```rust\n{SR}\n```") == {"src/lib.rs": FIXED}
    assert planned(root, f"{sentence}\n\n```rust\n{FIXED}```") == {"src/lib.rs": FIXED}


@pytest.mark.parametrize(
    "sentence",
    [
        "I changed `src/lib.rs`, see below.",
        "Compare `src/lib.rs` with `src/long.rs`:",
        "Then call `self.offset`:",
    ],
)
def test_a_sentence_that_does_not_name_one_path_is_not_a_label(root: Path, sentence: str) -> None:
    with pytest.raises(PatchRefused, match="names no file"):
        plan_payload(root, f"{sentence}\n```rust\n{SR}\n```")


def test_a_label_path_with_spaces(root: Path) -> None:
    (root / "docs").mkdir()
    (root / "docs" / "User Guide.md").write_text("# Guide\n\nOld text.\n")
    for label in ("`docs/User Guide.md`:", "**docs/User Guide.md**", "File: docs/User Guide.md", "Updated `docs/User Guide.md`:"):
        assert planned(root, f"{label}\n```markdown\n# Guide\n\nNew text.\n```") == {"docs/User Guide.md": "# Guide\n\nNew text.\n"}


def test_search_replace_blocks_for_two_files_in_order(root: Path) -> None:
    payload = (
        f"src/lib.rs\n```rust\n{SR}\n"
        "<<<<<<< SEARCH\n    day.saturating_sub(offset)\n=======\n    day.saturating_sub(offset) // fixed\n>>>>>>> REPLACE\n```\n"
        "src/long.rs\n```rust\n<<<<<<< SEARCH\n    11\n=======\n    eleven()\n>>>>>>> REPLACE\n```\n"
    )
    after = planned(root, payload)
    assert after["src/lib.rs"] == FIXED.replace("(offset)\n", "(offset) // fixed\n")
    assert after["src/long.rs"] == LONG.replace("    11\n", "    eleven()\n")


def test_search_replace_keeps_the_files_whitespace_on_shared_lines(root: Path) -> None:
    (root / "src" / "tabs.rs").write_text("fn a() {\n\tlet x = 1;\n\tx\n}\n")
    payload = "src/tabs.rs\n```rust\n<<<<<<< SEARCH\n    let x = 1;\n    x\n=======\n    let x = 1;\n    x + 1\n>>>>>>> REPLACE\n```"
    assert planned(root, payload) == {"src/tabs.rs": "fn a() {\n\tlet x = 1;\n\tx + 1\n}\n"}


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ("src/lib.rs\n<<<<<<< SEARCH\n    day + offset\n=======\n    day\n>>>>>>> REPLACE\n", "does not match"),
        ("src/long.rs\n<<<<<<< SEARCH\n}\n=======\n};\n>>>>>>> REPLACE\n", "matches 12 places"),
        ("src/lib.rs\n<<<<<<< SEARCH\n    day - offset\n=======\n    day\n", "unterminated SEARCH/REPLACE block"),
        ("src/lib.rs\n<<<<<<< SEARCH\n=======\nfn extra() {}\n>>>>>>> REPLACE\n", "empty SEARCH section"),
        ("src/nope.rs\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "src/nope.rs does not exist"),
    ],
)
def test_search_replace_refusals(root: Path, payload: str, words: str) -> None:
    with pytest.raises(PatchRefused, match=words):
        plan_payload(root, payload)


def test_search_replace_already_applied(root: Path) -> None:
    (root / "src" / "lib.rs").write_text(FIXED)
    with pytest.raises(PatchRefused, match="already applied"):
        plan_payload(root, f"src/lib.rs\n{SR}\n")


def test_empty_search_creates_a_missing_file(root: Path) -> None:
    payload = "src/new.rs\n```rust\n<<<<<<< SEARCH\n=======\npub fn new() {}\n>>>>>>> REPLACE\n```"
    assert planned(root, payload) == {"src/new.rs": "pub fn new() {}\n"}


@pytest.mark.parametrize(
    "payload",
    [
        f"```rust src/lib.rs\n{FIXED}```",
        f"```src/lib.rs\n{FIXED}```",
        f"```rust:src/lib.rs\n{FIXED}```",
        f"```rust title=src/lib.rs\n{FIXED}```",
        f"src/lib.rs:\n```rust\n{FIXED}```",
        f"**src/lib.rs**\n\n```rust\n{FIXED}```",
        f"// File: src/lib.rs\n```rust\n{FIXED}```",
        f"### `src/lib.rs`\n```\n{FIXED}```",
        f"```rust\n// src/lib.rs\n{FIXED}```",
        f"The whole file:\n```rust\n{FIXED.rstrip()}\n```\nThat is all.",
    ],
)
def test_whole_file_paths(root: Path, payload: str) -> None:
    expected = {"src/lib.rs": FIXED}
    if "The whole file" in payload:
        assert planned(root, payload, default_path="src/lib.rs") == expected
    else:
        assert planned(root, payload) == expected


def test_whole_file_without_a_final_newline_gets_the_files_one(root: Path) -> None:
    (root / "src" / "crlf.rs").write_bytes(LIB.replace("\n", "\r\n").encode())
    assert planned(root, f"src/crlf.rs:\n```rust\n{FIXED.rstrip()}\n```") == {"src/crlf.rs": FIXED.replace("\n", "\r\n")}


def test_path_comment_is_kept_only_when_the_file_has_it(root: Path) -> None:
    (root / "src" / "labelled.rs").write_text("// src/labelled.rs\nfn a() {}\n")
    after = planned(root, "```rust\n// src/labelled.rs\nfn b() {}\n```\n```rust\n// lib.rs\nfn c() {}\n```")
    assert after == {"src/labelled.rs": "// src/labelled.rs\nfn b() {}\n", "src/lib.rs": "fn c() {}\n"}


def test_a_name_in_the_code_never_creates_a_file(root: Path) -> None:
    with pytest.raises(PatchRefused, match="first line names src/other.rs, which is not a file of the project"):
        plan_payload(root, "```rust\n// src/other.rs\nfn c() {}\n```")
    (root / "tests").mkdir()
    (root / "tests" / "lib.rs").write_text("fn t() {}\n")
    with pytest.raises(PatchRefused, match="lib.rs could be any of 2 files"):
        plan_payload(root, "```rust\n// lib.rs\nfn c() {}\n```")


def test_the_label_wins_over_a_first_line_comment_that_is_the_files_own(root: Path) -> None:
    """A file whose own first line is `// tokens.rs`, posted under a label: the label names the file, the comment stays."""
    (root / "src" / "parse").mkdir()
    (root / "src" / "parse" / "tokens.rs").write_text("// tokens.rs\npub struct Token;\n")
    after = planned(root, "Updated `src/parse/tokens.rs`:\n```rust\n// tokens.rs\npub struct Token(u8);\n```")
    assert after == {"src/parse/tokens.rs": "// tokens.rs\npub struct Token(u8);\n"}
    assert not (root / "tokens.rs").exists()
    dropped = planned(root, "Updated `src/lib.rs`:\n```rust\n// lib.rs\n" + FIXED + "```")
    assert dropped == {"src/lib.rs": FIXED}
    with pytest.raises(PatchRefused, match="starts with a comment naming another file, src/long.rs"):
        plan_payload(root, "Updated `src/lib.rs`:\n```rust\n// src/long.rs\n" + FIXED + "```")


@pytest.mark.parametrize(
    "payload",
    [
        "Run this:\n```bash\ncargo test\n```",
        "Output:\n```text\nerror[E0308]: mismatched types\n```",
        "```rust\nfn sketch() {}\n```",
        "src/lib.rs:\n```diff\nThis is not a diff at all\n```",
        "src/lib.rs:\n```rust\n\n\n```",
        "src/main.rs:\n```console\n$ cargo run\n```",
    ],
)
def test_blocks_that_are_not_edits(root: Path, payload: str) -> None:
    with pytest.raises(PatchRefused, match="no edit found"):
        plan_payload(root, payload)


def test_non_edit_blocks_beside_a_diff_are_left_alone(root: Path) -> None:
    payload = (
        "Apply this:\n```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n     let offset = day % 7;\n-    day - offset\n"
        "+    day.saturating_sub(offset)\n }\n```\nThen run:\n```bash\ncargo test\n```\nExpected:\n```rust\nassert_eq!(x, 1);\n```"
    )
    assert planned(root, payload, default_path="src/long.rs") == {"src/lib.rs": FIXED}


def test_default_file_takes_the_one_fitting_block(root: Path) -> None:
    payload = f"@agent code improvement #2025-07-12 file_id=51 [оптимизировать]\n```bash\ncargo test\n```\n```rust\n{FIXED}```"
    assert planned(root, payload, default_path="src/lib.rs") == {"src/lib.rs": FIXED}


def test_default_file_refuses_two_candidate_blocks(root: Path) -> None:
    payload = f"```rust\n{FIXED}```\nor\n```rust\n{LIB}```"
    with pytest.raises(PatchRefused, match=r"2 code blocks .* could each be the new src/lib\.rs"):
        plan_payload(root, payload, default_path="src/lib.rs")


def test_headerless_diff_goes_to_the_label_or_the_default_file(root: Path) -> None:
    body = (
        "@@ -1,4 +1,4 @@\n pub fn adjust_to_monday(day: u32) -> u32 {\n     let offset = day % 7;\n"
        "-    day - offset\n+    day.saturating_sub(offset)\n }\n"
    )
    assert planned(root, f"src/lib.rs:\n```diff\n{body}```") == {"src/lib.rs": FIXED}
    assert planned(root, f"```diff\n// src/lib.rs\n{body}```") == {"src/lib.rs": FIXED}
    assert planned(root, f"```diff\n{body}```", default_path="src/lib.rs") == {"src/lib.rs": FIXED}
    bare = "```diff\n     let offset = day % 7;\n-    day - offset\n+    day.saturating_sub(offset)\n```"
    assert planned(root, bare, default_path="src/lib.rs") == {"src/lib.rs": FIXED}
    with pytest.raises(PatchRefused, match="names no file"):
        plan_payload(root, f"```diff\n{body}```")


@pytest.mark.parametrize(
    "text",
    [
        "pub fn adjust_to_monday(day: u32) -> u32 {\n    // ... existing code ...\n}\n",
        "pub fn f0() -> u32 {\n    0\n}\n\n// ...\n",
        "pub fn f0() -> u32 {\n    0\n}\n# rest of the file unchanged ...\n",
    ],
)
def test_whole_file_that_is_an_excerpt_is_refused(root: Path, text: str) -> None:
    with pytest.raises(PatchRefused, match="excerpt"):
        plan_payload(root, f"src/long.rs:\n```rust\n{text}```")


def test_whole_file_keeping_little_of_a_long_file_is_refused(root: Path) -> None:
    with pytest.raises(PatchRefused, match="keeps only 3 of the file's 36 non-blank lines"):
        plan_payload(root, "src/long.rs:\n```rust\npub fn f3() -> u32 {\n    3\n}\n```")
    after = planned(root, '<code_file name="src/long.rs">\npub fn f3() -> u32 {\n    3\n}\n</code_file>')
    assert after == {"src/long.rs": "pub fn f3() -> u32 {\n    3\n}\n"}


def test_code_file_tag(root: Path) -> None:
    assert planned(root, f'Updated:\n<code_file name="src/lib.rs">\n{FIXED}</code_file>') == {"src/lib.rs": FIXED}
    assert planned(root, f'<code_file name="src/lib.rs">\n```rust\n{FIXED}```\n</code_file>') == {"src/lib.rs": FIXED}
    assert planned(root, f"<code_file file_id='7'>{FIXED}</code_file>", resolve_id={7: "src/lib.rs"}.get) == {"src/lib.rs": FIXED}


def test_code_patch_tag_with_unprefixed_context(root: Path) -> None:
    payload = (
        '<code_patch file_id="42">@@ -1,4 +1,4 @@\npub fn adjust_to_monday(day: u32) -> u32 {\n'
        "    let offset = day % 7;\n-    day - offset\n+    day.saturating_sub(offset)\n}\n</code_patch>"
    )
    assert planned(root, payload, resolve_id={42: "src/lib.rs"}.get) == {"src/lib.rs": FIXED}


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ('<code_patch file_id="9">@@\n-a\n+b\n</code_patch>', "unknown file_id=9"),
        ('<code_patch file_id="x9">@@\n-a\n+b\n</code_patch>', "not a number"),
        ("<code_patch>@@\n-a\n+b\n</code_patch>", "names no file"),
        ('<code_file name="src/lib.rs">\nfn a() {}\n', "unterminated <code_file> tag"),
    ],
)
def test_tag_refusals(root: Path, payload: str, words: str) -> None:
    with pytest.raises(PatchRefused, match=words):
        plan_payload(root, payload, resolve_id={42: "src/lib.rs"}.get)


def test_tags_quoted_inside_a_diff_are_text(root: Path) -> None:
    (root / "README.md").write_text('Send\n<code_file name="x">…</code_file>\nto replace a file.\n')
    payload = '--- a/README.md\n+++ b/README.md\n@@\n Send\n <code_file name="x">…</code_file>\n-to replace a file.\n'
    payload += "+to replace a whole file.\n"
    assert planned(root, payload) == {"README.md": 'Send\n<code_file name="x">…</code_file>\nto replace a whole file.\n'}


@pytest.mark.parametrize("fenced", [False, True])
def test_fence_lines_inside_a_diff_are_context(root: Path, fenced: bool) -> None:
    readme = "Title\n~~~~~\n\n```rust\nlet a = 1;\n```\n"
    (root / "README.md").write_text(readme)
    diff = "--- a/README.md\n+++ b/README.md\n@@ -1,6 +1,6 @@\n Title\n ~~~~~\n \n ```rust\n-let a = 1;\n+let a = 2;\n ```\n"
    payload = f"Fix:\n```diff\n{diff}```\nDone." if fenced else f"Fix:\n{diff}Done."
    assert planned(root, payload) == {"README.md": readme.replace("a = 1", "a = 2")}


def test_hostile_tag_path_is_refused(root: Path) -> None:
    with pytest.raises(PathRefused):
        plan_payload(root, '<code_file name="../escape.rs">fn a() {}</code_file>')


def test_mixed_carriers_in_one_message(root: Path) -> None:
    payload = (
        "First the fix:\n```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n-    day - offset\n+    day.saturating_sub(offset)\n }\n```\n"
        "then a helper:\n```rust src/util.rs\npub fn two() -> u32 { 2 }\n```\n"
        "and:\nsrc/long.rs\n```rust\n<<<<<<< SEARCH\n    0\n=======\n    zero()\n>>>>>>> REPLACE\n```\n"
    )
    after = planned(root, payload)
    assert after == {
        "src/lib.rs": FIXED,
        "src/util.rs": "pub fn two() -> u32 { 2 }\n",
        "src/long.rs": LONG.replace("    0\n", "    zero()\n", 1),
    }


def test_the_same_diff_quoted_twice_applies_once(root: Path) -> None:
    block = "```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n-    day - offset\n+    day.saturating_sub(offset)\n }\n```\n"
    assert planned(root, f"{block}\nAs shown above:\n{block}") == {"src/lib.rs": FIXED}


def test_two_different_diffs_to_one_file_apply_in_sequence(root: Path) -> None:
    one = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n-    day - offset\n+    day.saturating_sub(offset)\n }\n"
    two = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n-    day.saturating_sub(offset)\n+    day.saturating_sub(offset) // 2\n }\n"
    assert planned(root, f"```diff\n{one}```\n```diff\n{two}```") == {"src/lib.rs": FIXED.replace("(offset)\n", "(offset) // 2\n")}
