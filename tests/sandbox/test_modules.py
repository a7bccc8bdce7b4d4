"""New Rust files no target compiles: named in the apply result and the reply, real cargo showing why it matters."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox.config import SandboxConfig
from sandbox.local import LocalExecutor
from sandbox.patch import apply_payload
from sandbox.patch.modules import undeclared
from sandbox.summary import summarize_apply
from sandbox.treeio import READ_CAP

NOT_RUST = "pub fn broken( -> {{{ this is not rust\n"


def new_file(path: str, body: str = NOT_RUST) -> str:
    return f"File: {path}\n```rust\n{body}```\n"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src" / "net").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[package]\nname = "demo"\nversion = "0.1.0"\n\n[[bin]]\nname = "tool"\npath = "tools/tool.rs"\n')
    (root / "src" / "lib.rs").write_text("pub mod net;\n#[path = \"gen/out.rs\"]\nmod generated;\n")
    (root / "src" / "net.rs").write_text("mod r#async ;\n")
    return root


def test_a_new_file_no_module_declares_is_named(package: Path) -> None:
    result = apply_payload(package, new_file("src/broken.rs"))
    assert result.ok and result.created == ["src/broken.rs"]
    assert result.undeclared == ["src/broken.rs"]
    assert "Not compiled: `src/broken.rs`" in summarize_apply(result)


@pytest.mark.parametrize(
    "path",
    [
        "src/net/async.rs",  # `mod r#async ;` in its parent
        "src/gen/out.rs",  # a #[path] attribute
        "tools/tool.rs",  # a target path in Cargo.toml
        "src/bin/extra.rs", "tests/it.rs", "examples/demo.rs", "benches/speed.rs", "build.rs",  # cargo's auto-discovered roots
        "README.rs.txt",  # not Rust
    ],
)
def test_a_file_cargo_compiles_is_not_named(package: Path, path: str) -> None:
    assert undeclared(package, [path]) == []


def test_a_module_declared_by_the_same_patch_is_not_named(package: Path) -> None:
    payload = new_file("src/util.rs", "pub fn two() -> u32 { 2 }\n") + new_file("src/lib.rs", "pub mod net;\npub mod util;\n")
    assert apply_payload(package, payload).undeclared == []


def test_a_mod_rs_is_declared_by_its_folders_name(package: Path) -> None:
    (package / "src" / "lib.rs").write_text("mod store;\n")
    assert undeclared(package, ["src/store/mod.rs", "src/cache/mod.rs"]) == ["src/cache/mod.rs"]


def test_a_declaration_behind_a_symbolic_link_is_not_read(package: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.rs").write_text("mod broken;\n")
    os.symlink(tmp_path / "elsewhere.rs", package / "src" / "linked.rs")
    assert undeclared(package, ["src/broken.rs"]) == ["src/broken.rs"]


def test_a_fifo_named_like_a_source_is_not_opened(package: Path) -> None:
    """A build may leave a FIFO in the tree: opening it would hang the executor."""
    os.mkfifo(package / "src" / "pipe.rs")
    assert undeclared(package, ["src/broken.rs"]) == ["src/broken.rs"]


@pytest.mark.cargo
def test_cargo_passes_a_check_whatever_an_undeclared_file_holds(tmp_path: Path, crate_copy: Path) -> None:
    """Why the note exists: the check of a patch adding text that is not Rust passes, and the reply says why."""
    executor = LocalExecutor(crate_copy, SandboxConfig(home=tmp_path / "home"))
    applied = executor.apply(new_file("src/broken.rs"))
    assert applied.ok and applied.undeclared == ["src/broken.rs"]
    assert executor.check_compile().ok


def test_a_source_over_the_read_cap_is_taken_as_declaring(package: Path) -> None:
    """A file too big to read may hold the declaration: no note rather than a false one."""
    with (package / "src" / "huge.rs").open("wb") as handle:
        handle.truncate(READ_CAP + 1)
    assert undeclared(package, ["src/broken.rs"]) == []
