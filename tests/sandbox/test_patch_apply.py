"""Whole payloads against a real tree: creation, deletion, renames, all-or-nothing writes, hostile paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox.errors import PatchRefused
from sandbox.models import FileChange
from sandbox.patch import BUILD_SENSITIVE, apply_payload, apply_result, is_build_sensitive, plan_payload, write_changes

LIB = "pub fn one() -> u32 {\n    1\n}\n"
MAIN = "fn main() {\n    println!(\"{}\", demo::one());\n}\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "lib.rs").write_text(LIB)
    (project / "src" / "main.rs").write_text(MAIN)
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret\n")
    return project


def snapshot(top: Path) -> dict[str, bytes]:
    return {p.relative_to(top).as_posix(): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file() and not p.is_symlink()}


LIB_EDIT = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,3 +1,3 @@\n pub fn one() -> u32 {\n-    1\n+    2\n }\n"
MAIN_EDIT = (
    "--- a/src/main.rs\n+++ b/src/main.rs\n@@ -1,3 +1,3 @@\n fn main() {\n"
    '-    println!("{}", demo::one());\n+    println!("one = {}", demo::one());\n }\n'
)


def test_multi_file_payload_changes_every_file(root: Path) -> None:
    result = apply_payload(root, LIB_EDIT + MAIN_EDIT)
    assert result.ok, result.error
    assert result.changed == ["src/lib.rs", "src/main.rs"]
    assert (root / "src/lib.rs").read_text() == LIB.replace("    1\n", "    2\n")
    assert "one = {}" in (root / "src/main.rs").read_text()


def test_multi_file_payload_whose_second_file_fails_changes_nothing(root: Path) -> None:
    broken = MAIN_EDIT.replace(" fn main() {", " fn main() -> () {")
    before = snapshot(root.parent)
    result = apply_payload(root, LIB_EDIT + broken)
    assert not result.ok and "src/main.rs" in (result.error or "")
    assert snapshot(root.parent) == before


@pytest.mark.parametrize(
    "path",
    ["../outside/secret.txt", "/etc/hostname", ".git/config", ".GIT/hooks/post-checkout", "src/../../outside/secret.txt", "leak/x.txt"],
)
def test_hostile_path_in_a_multi_file_payload_changes_nothing(root: Path, path: str) -> None:
    (root / "leak").symlink_to(root.parent / "outside", target_is_directory=True)
    hostile = f"--- a/{path}\n+++ b/{path}\n@@\n-secret\n+owned\n".replace("a//", "/").replace("b//", "/")
    before = snapshot(root.parent)
    result = apply_payload(root, LIB_EDIT + hostile)
    assert not result.ok and "refused" in (result.error or "")
    assert snapshot(root.parent) == before


@pytest.mark.parametrize(
    "payload",
    [
        '<code_file name=".git/hooks/pre-commit">#!/bin/sh\necho owned\n</code_file>',
        "../outside/secret.txt:\n```text\nowned\n```",
        "--- /dev/null\n+++ b/.git/hooks/pre-commit\n@@ -0,0 +1 @@\n+echo owned\n",
        "leak/new.txt\n```text\n<<<<<<< SEARCH\n=======\nowned\n>>>>>>> REPLACE\n```",
    ],
)
def test_hostile_paths_in_every_carrier_are_refused(root: Path, payload: str) -> None:
    (root / "leak").symlink_to(root.parent / "outside", target_is_directory=True)
    before = snapshot(root.parent)
    result = apply_payload(root, payload)
    assert not result.ok and "refused" in (result.error or "")
    assert snapshot(root.parent) == before


def test_a_symlinked_file_inside_the_tree_is_edited_in_place(root: Path) -> None:
    (root / "lib.rs").symlink_to(Path("src") / "lib.rs")
    result = apply_payload(root, LIB_EDIT.replace("src/lib.rs", "lib.rs"))
    assert result.ok, result.error
    assert (root / "lib.rs").is_symlink()
    assert (root / "src/lib.rs").read_text() == LIB.replace("    1\n", "    2\n")
    assert result.changed == ["src/lib.rs"]


def test_creates_a_file_from_dev_null(root: Path) -> None:
    payload = "--- /dev/null\n+++ b/src/util/mod.rs\n@@ -0,0 +1,2 @@\n+pub fn two() -> u32 {\n+    2 }\n"
    result = apply_payload(root, payload)
    assert result.ok, result.error
    assert result.created == ["src/util/mod.rs"] and result.changed == []
    assert (root / "src/util/mod.rs").read_text() == "pub fn two() -> u32 {\n    2 }\n"


def test_refuses_to_create_over_an_existing_file(root: Path) -> None:
    payload = "--- /dev/null\n+++ b/src/lib.rs\n@@ -0,0 +1 @@\n+pub fn other() {}\n"
    result = apply_payload(root, payload)
    assert not result.ok and "cannot create src/lib.rs: it already exists" in (result.error or "")
    again = "--- /dev/null\n+++ b/src/lib.rs\n@@ -0,0 +1,3 @@\n" + "".join(f"+{line}\n" for line in LIB.splitlines())
    result = apply_payload(root, again)
    assert not result.ok and "already applied" in (result.error or "")
    assert (root / "src/lib.rs").read_text() == LIB


def test_deletes_a_file_whose_content_matches(root: Path) -> None:
    payload = "--- a/src/lib.rs\n+++ /dev/null\n@@ -1,3 +0,0 @@\n" + "".join(f"-{line}\n" for line in LIB.splitlines())
    result = apply_payload(root, payload)
    assert result.ok, result.error
    assert result.deleted == ["src/lib.rs"] and not (root / "src/lib.rs").exists()


def test_refuses_a_deletion_whose_content_differs(root: Path) -> None:
    payload = "--- a/src/lib.rs\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-pub fn one() -> u32 {\n-    1\n"
    result = apply_payload(root, payload)
    assert not result.ok and "not the whole file" in (result.error or "")
    assert (root / "src/lib.rs").read_text() == LIB


def test_git_deletion_without_content(root: Path) -> None:
    result = apply_payload(root, "diff --git a/src/main.rs b/src/main.rs\ndeleted file mode 100644\nindex 1234567..0000000\n")
    assert result.ok, result.error
    assert result.deleted == ["src/main.rs"]


def test_git_rename_with_an_edit(root: Path) -> None:
    payload = (
        "diff --git a/src/lib.rs b/src/core.rs\nsimilarity index 90%\nrename from src/lib.rs\nrename to src/core.rs\n"
        + LIB_EDIT.replace("+++ b/src/lib.rs", "+++ b/src/core.rs")
    )
    result = apply_payload(root, payload)
    assert result.ok, result.error
    assert result.deleted == ["src/lib.rs"] and result.created == ["src/core.rs"]
    assert (root / "src/core.rs").read_text() == LIB.replace("    1\n", "    2\n")


def test_refuses_to_edit_a_binary_file(root: Path) -> None:
    (root / "data.bin").write_bytes(b"abc\0def\n")
    result = apply_payload(root, "--- a/data.bin\n+++ b/data.bin\n@@\n-abc\n+xyz\n")
    assert not result.ok and "binary file" in (result.error or "")


def test_plan_writes_nothing(root: Path) -> None:
    before = snapshot(root)
    changes = plan_payload(root, LIB_EDIT + MAIN_EDIT)
    assert [c.path for c in changes] == ["src/lib.rs", "src/main.rs"]
    assert changes[0].before == LIB and changes[0].after == LIB.replace("    1\n", "    2\n")
    assert snapshot(root) == before


def test_write_changes_refuses_when_a_file_moved_on(root: Path) -> None:
    changes = plan_payload(root, LIB_EDIT + MAIN_EDIT)
    (root / "src/main.rs").write_text(MAIN + "// edited meanwhile\n")
    before = snapshot(root)
    with pytest.raises(PatchRefused, match=r"src/main\.rs changed since the patch was planned"):
        write_changes(root, changes)
    assert snapshot(root) == before
    created = plan_payload(root, "--- /dev/null\n+++ b/src/new.rs\n@@ -0,0 +1 @@\n+fn new() {}\n")
    (root / "src/new.rs").write_text("// someone was faster\n")
    with pytest.raises(PatchRefused, match=r"src/new\.rs changed since the patch was planned"):
        write_changes(root, changes[:1] + created)
    assert (root / "src/lib.rs").read_text() == LIB


def test_write_changes_rolls_back_when_a_swap_fails(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    changes = [
        FileChange(path="src/lib.rs", before=LIB, after="changed\n"),
        FileChange(path="src/new/deep/file.rs", before=None, after="new\n"),
        FileChange(path="src/main.rs", before=MAIN, after=None),
    ]
    before = snapshot(root)
    real_replace = os.replace
    calls = []

    def failing_replace(src: str | Path, dst: str | Path) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PatchRefused, match="cannot write src/new/deep/file.rs: No space left on device; nothing was written"):
        write_changes(root, changes)
    monkeypatch.undo()
    assert snapshot(root) == before
    assert not (root / "src/new").exists()
    assert not [p for p in root.rglob("*.tmp")]


def test_write_changes_keeps_the_file_mode(root: Path) -> None:
    script = root / "run.sh"
    script.write_text("echo one\n")
    script.chmod(0o755)
    write_changes(root, [FileChange(path="run.sh", before="echo one\n", after="echo two\n")])
    assert script.read_text() == "echo two\n" and script.stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize(
    ("path", "sensitive"),
    [
        ("build.rs", True),
        ("crates/core/build.rs", True),
        ("Cargo.toml", True),
        ("crates/core/Cargo.toml", True),
        ("Cargo.lock", True),
        ("rust-toolchain", True),
        ("rust-toolchain.toml", True),
        (".cargo/config.toml", True),
        ("crates/x/.cargo/config", True),
        ("src/lib.rs", False),
        ("src/build.rs.bak", False),
        ("src/mybuild.rs", False),
        ("docs/Cargo.toml.md", False),
    ],
)
def test_build_sensitive_paths(path: str, sensitive: bool) -> None:
    assert is_build_sensitive(path) is sensitive
    assert BUILD_SENSITIVE


def test_result_flags_build_sensitive_files(root: Path) -> None:
    (root / "Cargo.toml").write_text('[package]\nname = "demo"\n')
    payload = (
        LIB_EDIT
        + '--- a/Cargo.toml\n+++ b/Cargo.toml\n@@\n [package]\n name = "demo"\n+build = "build.rs"\n'
        + "--- /dev/null\n+++ b/build.rs\n@@ -0,0 +1 @@\n+fn main() {}\n"
    )
    result = apply_payload(root, payload)
    assert result.ok, result.error
    assert result.build_sensitive == ["Cargo.toml", "build.rs"]


def test_result_regions_and_formats(root: Path) -> None:
    payload = LIB_EDIT + '\n<code_file name="src/extra.rs">\npub const A: u8 = 1;\npub const B: u8 = 2;\n</code_file>\n'
    result = apply_payload(root, payload)
    assert result.ok, result.error
    assert result.regions == {"src/lib.rs": (2, 2), "src/extra.rs": (1, 2)}
    assert result.formats == ["unified-diff", "code_file"]


def test_apply_result_describes_changes_given_by_the_executor() -> None:
    result = apply_result(
        [
            FileChange(path="a.rs", before="x\ny\nz\n", after="x\nz\n"),
            FileChange(path="b.rs", before=None, after="new\n"),
            FileChange(path="c.rs", before="gone\n", after=None),
        ]
    )
    assert (result.changed, result.created, result.deleted) == (["a.rs"], ["b.rs"], ["c.rs"])
    assert result.regions == {"a.rs": (2, 2), "b.rs": (1, 1)}
