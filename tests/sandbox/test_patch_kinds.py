"""The kinds of input LLMs really post, each applied exactly where one reading exists and refused where not."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.errors import PatchRefused
from sandbox.patch import plan_payload

COUNTER = """pub struct Counter {
    count: u64,
}

impl Counter {
    pub fn new() -> Self {
        Counter { count: 0 }
    }

    pub fn bump(&mut self) {
        self.count += 1;
    }

    pub fn get(&self) -> u64 {
        self.count
    }
}
"""
README = "# demo\n\nRun it:\n\n```sh\ncargo run\n```\n\n## License\n\nMIT\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_text(COUNTER)
    (tmp_path / "README.md").write_text(README)
    return tmp_path


def planned(root: Path, payload: str) -> dict[str, str | None]:
    return {c.path: c.after for c in plan_payload(root, payload)}


# whole files that are excerpts ----------------------------------------------------------------
@pytest.mark.parametrize(
    "stand_in",
    [
        "    // ...original bump() and get() bodies go here...",
        "    // (bump and get unchanged)",
        "    /* the other methods stay as they are */",
        "    ...",
    ],
)
def test_a_comment_standing_where_definitions_were_is_an_excerpt(root: Path, stand_in: str) -> None:
    excerpt = COUNTER.split("    pub fn bump")[0] + "    pub fn reset(&mut self) {\n        self.count = 0;\n    }\n\n" + stand_in + "\n}\n"
    with pytest.raises(PatchRefused, match="excerpt, not a whole file"):
        plan_payload(root, f"src/lib.rs\n```rust\n{excerpt}```")


def test_a_comment_standing_alone_where_code_was_is_an_excerpt(root: Path) -> None:
    body_elided = COUNTER.replace("        self.count += 1;\n", "        // same as before\n")
    with pytest.raises(PatchRefused, match="stands where 1 line"):
        plan_payload(root, f"src/lib.rs\n```rust\n{body_elided}```")


def test_a_whole_file_whose_only_change_is_a_stand_in_is_an_excerpt(tmp_path: Path) -> None:
    """The unchanged file with "(unchanged)" where the edit's new lines were: nothing to write but the stand-in
    itself (found by test_patch_props: the stand-in was written into the file)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "mod.rs").write_text("pub mod aggr_trades;\n")
    with pytest.raises(PatchRefused, match="is all it adds to the file"):
        plan_payload(tmp_path, "Updated `src/mod.rs`:\n```rust\npub mod aggr_trades;\n// (unchanged)\n```")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("        self.count += 1;\n", "        // self.count += 1;\n        self.count = self.count.saturating_add(1);\n"),
        ("        self.count += 1;\n", "        // commented out while we debug:\n        // self.count += 1;\n"),
        ("        self.count += 1;\n", "        // saturate: a counter never wraps\n        self.count = self.count.saturating_add(1);\n"),
        ("    pub fn get(&self) -> u64 {\n        self.count\n    }\n", "    /// The count so far.\n    pub fn get(&self) -> u64 {\n        self.count\n    }\n"),
    ],
)
def test_comments_that_stand_beside_code_or_for_commented_out_code_are_whole_files(root: Path, old: str, new: str) -> None:
    after = COUNTER.replace(old, new)
    assert planned(root, f"src/lib.rs\n```rust\n{after}```") == {"src/lib.rs": after}


def test_a_placeholder_standing_alone_beside_new_code_is_an_excerpt(root: Path) -> None:
    """The elided methods' place holds a lone comment; the code written after it is new, not their replacement."""
    excerpt = COUNTER.split("    pub fn bump")[0] + "    // ...\n\n    pub fn reset(&mut self) {\n        self.count = 0;\n    }\n}\n"
    excerpt = excerpt.replace("    pub fn new() -> Self {\n        Counter { count: 0 }\n    }\n\n", "")
    with pytest.raises(PatchRefused, match="excerpt, not a whole file"):
        plan_payload(root, f"src/lib.rs\n```rust\n{excerpt}```")


def test_a_comment_over_code_that_replaces_more_code_is_a_rewrite(root: Path) -> None:
    after = COUNTER.replace(
        "        self.count += 1;\n",
        "        // wrap instead of panicking in debug builds\n        let next = self.count.wrapping_add(1);\n        self.count = next;\n",
    )
    assert planned(root, f"src/lib.rs\n```rust\n{after}```") == {"src/lib.rs": after}


def test_a_whole_file_that_drops_a_definition_without_a_stand_in_is_a_rewrite(root: Path) -> None:
    after = COUNTER.replace("    pub fn get(&self) -> u64 {\n        self.count\n    }\n", "").replace("    }\n\n}\n", "    }\n}\n")
    assert planned(root, f"src/lib.rs\n```rust\n{after}```") == {"src/lib.rs": after}


# nested fences ------------------------------------------------------------------------------------
def test_a_markdown_file_with_fences_of_its_own_in_a_fence_not_lengthened(root: Path) -> None:
    new = README.replace("MIT", "MIT\n\n## Testing\n\n```sh\ncargo test\n```")
    assert planned(root, f"README.md\n```markdown\n{new}```") == {"README.md": new}
    assert planned(root, f"README.md\n````markdown\n{new}````\nDone.") == {"README.md": new}


def test_a_markdown_file_whose_end_is_ambiguous_is_refused(root: Path) -> None:
    """Bare inner fences: the first one may close the block or open an inner one; both readings are whole messages."""
    new = "# demo\n\n```\ncargo run\n```\n\nMIT\n"
    with pytest.raises(PatchRefused, match="holds fences of its own and could end at line 5 of the message or later"):
        plan_payload(root, f"README.md\n```markdown\n{new}```")


def test_a_rust_file_followed_by_a_bare_block_is_not_ambiguous(root: Path) -> None:
    after = COUNTER.replace("+= 1", "+= 2")
    payload = f"src/lib.rs\n```rust\n{after}```\n\nThen run:\n```\ncargo test\n```\n"
    assert planned(root, payload) == {"src/lib.rs": after}


def test_a_whole_file_whose_fence_never_closes_is_refused(root: Path) -> None:
    with pytest.raises(PatchRefused, match="no closing fence"):
        plan_payload(root, f"src/lib.rs\n```rust\n{COUNTER[:120]}")


def test_search_replace_whose_new_text_holds_a_fence(root: Path) -> None:
    payload = "README.md\n```markdown\n<<<<<<< SEARCH\n## License\n=======\n## Testing\n\n```sh\ncargo test\n```\n\n## License\n>>>>>>> REPLACE\n```\n"
    assert planned(root, payload) == {"README.md": README.replace("## License", "## Testing\n\n```sh\ncargo test\n```\n\n## License")}


# separator-like lines inside SEARCH/REPLACE ------------------------------------------------------
def test_a_divider_like_line_in_the_text_is_settled_by_the_file(root: Path) -> None:
    (root / "NOTES.md").write_text("Title\n=======\nbody\nTitle\n")
    payload = "NOTES.md\n<<<<<<< SEARCH\nTitle\n=======\n=======\nHeading\n=======\n>>>>>>> REPLACE\n"
    assert planned(root, payload) == {"NOTES.md": "Heading\n=======\nbody\nTitle\n"}


def test_a_divider_that_leaves_two_readings_is_refused(root: Path) -> None:
    (root / "NOTES.md").write_text("a\n=======\nb\n")
    payload = "NOTES.md\n<<<<<<< SEARCH\na\n=======\nb\n=======\nc\n>>>>>>> REPLACE\n"
    with pytest.raises(PatchRefused, match="2 lines that could be its ======= divider and 2 of the readings apply"):
        plan_payload(root, payload)


# indentation of added lines ---------------------------------------------------------------------
def test_added_lines_take_the_tab_indentation_of_a_tab_file(root: Path) -> None:
    tabbed = COUNTER.replace("        ", "\t\t").replace("    ", "\t")
    (root / "src" / "lib.rs").write_text(tabbed)
    payload = "```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n     pub fn bump(&mut self) {\n-        self.count += 1;\n"
    payload += "+        if self.count < u64::MAX {\n+            self.count += 1;\n+        }\n     }\n```"
    after = tabbed.replace("\t\tself.count += 1;\n", "\t\tif self.count < u64::MAX {\n\t\t\tself.count += 1;\n\t\t}\n")
    assert planned(root, payload) == {"src/lib.rs": after}


def test_no_break_spaces_from_a_web_page_become_the_files_spaces(root: Path) -> None:
    nbsp = "\u00a0"
    payload = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n " + nbsp * 4 + "pub fn bump(&mut self) {\n-" + nbsp * 8 + "self.count += 1;\n"
    payload += "+" + nbsp * 8 + "self.count += 2;\n " + nbsp * 4 + "}\n"
    assert planned(root, payload) == {"src/lib.rs": COUNTER.replace("+= 1", "+= 2")}


def test_two_space_levels_become_the_files_four(root: Path) -> None:
    payload = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@\n   pub fn bump(&mut self) {\n-    self.count += 1;\n+    if true {\n+      self.count += 1;\n+    }\n   }\n"
    after = COUNTER.replace("        self.count += 1;\n", "        if true {\n            self.count += 1;\n        }\n")
    assert planned(root, payload) == {"src/lib.rs": after}


# names -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "label",
    ["Updated `src/lib.rs`:", "Here is the full `src/lib.rs`:", "File: src/lib.rs", "**src/lib.rs**", "Updated `lib.rs`:", "lib.rs"],
)
def test_whole_file_labels_in_prose(root: Path, label: str) -> None:
    after = COUNTER.replace("+= 1", "+= 2")
    assert planned(root, f"{label}\n\n```rust\n{after}```\n") == {"src/lib.rs": after}


def test_the_seed_dialect_with_the_tag_after_agent(root: Path) -> None:
    after = COUNTER.replace("+= 1", "+= 2")
    assert planned(root, f'@agent <code_file name="src/lib.rs">\n{after}</code_file>') == {"src/lib.rs": after}
    assert planned(root, f'@agent <code_file name="src/lib.rs">{after}</code_file>') == {"src/lib.rs": after}


def test_a_diff_names_a_file_by_its_tail_only_when_one_file_has_it(root: Path) -> None:
    payload = "--- a/lib.rs\n+++ b/lib.rs\n@@\n-        self.count += 1;\n+        self.count += 2;\n"
    assert planned(root, payload) == {"src/lib.rs": COUNTER.replace("+= 1", "+= 2")}
    (root / "tests").mkdir()
    (root / "tests" / "lib.rs").write_text(COUNTER)
    with pytest.raises(PatchRefused, match="lib.rs could be any of 2 files"):
        plan_payload(root, payload)


# diffs with elided lines ---------------------------------------------------------------------------------
def test_an_unfenced_diff_with_an_elision_applies_whole(root: Path) -> None:
    payload = (
        "Both methods:\n\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -10,7 +10,7 @@\n     pub fn bump(&mut self) {\n"
        "-        self.count += 1;\n+        self.count += 2;\n     }\n...\n     pub fn get(&self) -> u64 {\n-        self.count\n"
        "+        self.count * 2\n     }\n\nThat is all.\n"
    )
    assert planned(root, payload) == {"src/lib.rs": COUNTER.replace("+= 1", "+= 2").replace("        self.count\n", "        self.count * 2\n")}


def test_a_fence_line_after_an_elision_is_context_so_the_diff_is_not_applied_only_up_to_it(root: Path) -> None:
    """The part after `...` starts with the context line " ```sh": not a fence opener that would cut the diff short."""
    payload = (
        "Here is the change:\n\n--- a/README.md\n+++ b/README.md\n@@ -1,7 +1,7 @@\n-# demo\n+# demo crate\n \n...\n"
        " ```sh\n-cargo run\n+cargo run --release\n ```\n\nThat is all."
    )
    assert planned(root, payload) == {"README.md": README.replace("# demo\n", "# demo crate\n").replace("cargo run\n", "cargo run --release\n")}


def test_the_part_after_an_elision_keeps_its_context_past_a_fence_line(root: Path) -> None:
    """Cut at " ```sh", the part after `...` would be one blank context line, found in four places."""
    payload = (
        "Here is the change:\n\n--- a/README.md\n+++ b/README.md\n@@ -1,6 +1,7 @@\n-# demo\n+# demo crate\n \n...\n"
        " \n+Build it:\n ```sh\n cargo run\n\nThat is all."
    )
    assert planned(root, payload) == {"README.md": README.replace("# demo\n", "# demo crate\n").replace("\n```sh", "\nBuild it:\n```sh")}


def test_a_fence_line_in_a_body_without_an_at_at_line_is_context(root: Path) -> None:
    """Right after `---`/`+++` a body needs no `@@` line; its " ```sh" is context there too, before and after `...`."""
    fixed = README.replace("cargo run\n", "cargo run --release\n")
    body = " ```sh\n-cargo run\n+cargo run --release\n ```\n\nThat is all."
    assert planned(root, f"Here is the change:\n\n--- a/README.md\n+++ b/README.md\n{body}") == {"README.md": fixed}
    elided = f"Here is the change:\n\n--- a/README.md\n+++ b/README.md\n-# demo\n+# demo crate\n \n...\n{body}"
    assert planned(root, elided) == {"README.md": fixed.replace("# demo\n", "# demo crate\n")}



def test_the_part_after_an_elision_is_placed_after_the_part_before_it(root: Path) -> None:
    """Its old block (`    }` and a blank line) ends both `new` and `bump`; with no line numbers, the one after the
    part before the elision is its place (rule 3)."""
    payload = (
        "Here is the change:\n\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -10,7 +10,8 @@\n     pub fn bump(&mut self) {\n"
        "-        self.count += 1;\n+        self.count += 2;\n...\n     }\n+    // bumped by two\n \n\nThat is all."
    )
    bumped = COUNTER.replace("        self.count += 1;\n    }\n", "        self.count += 2;\n    }\n    // bumped by two\n")
    assert planned(root, payload) == {"src/lib.rs": bumped}
