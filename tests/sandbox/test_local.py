"""The in-process executor on a real git copy of the example crate, with real cargo."""

from __future__ import annotations

import os
from pathlib import Path

import git
import pytest

from sandbox.config import SandboxConfig
from sandbox.errors import (
    NotFound,
    NothingToCommit,
    NothingToUndo,
    PathRefused,
    SandboxError,
    WorkspaceError,
)
from sandbox.local import LocalExecutor
from sandbox.models import ChatLink, Identity

pytestmark = pytest.mark.cargo
GROK = Identity(name="Grok", email="grok@x.ai")


def replace(path: str, old: str, new: str) -> str:
    """A SEARCH/REPLACE payload as an assistant writes it."""
    return f"{path}\n```rust\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n```\n"


GOOD = replace(
    "src/date.rs",
    "    let mut day = date;\n    while day.weekday() != Weekday::Mon {\n        day = day.add_days(-1);\n    }\n    day",
    "    date.add_days(-(date.to_days() + 3).rem_euclid(7))",
)
BREAKS_TEST = replace("src/date.rs", "        day = day.add_days(-1);", "        day = day.add_days(-1);\n        if day.weekday() == Weekday::Tue { return day; }")
NEW_WARNING = replace(
    "src/report.rs",
    "pub fn format_report(groups: &[WeekAggr]) -> String {",
    "fn unused_helper() {}\n\npub fn format_report(groups: &[WeekAggr]) -> String {",
)
BREAKS_BUILD = replace("src/date.rs", "    day\n}", "    day + 1\n}")


@pytest.fixture
def executor(tmp_path: Path, crate_copy: Path) -> LocalExecutor:
    return LocalExecutor(crate_copy, SandboxConfig(home=tmp_path / "home"))


def test_workspace_is_a_worktree_on_its_own_branch(executor: LocalExecutor, crate_copy: Path) -> None:
    assert executor.apply(GOOD).ok
    assert executor.ws.tree != crate_copy
    assert git.Repo(executor.ws.tree).active_branch.name == "devspace/mcp"
    assert "rem_euclid" not in (crate_copy / "src/date.rs").read_text().split("pub fn adjust_to_monday")[1]
    # applied changes persist across executors (a restart) until commit or undo
    again = LocalExecutor(crate_copy, executor.config)
    assert again.status().pending == ["src/date.rs"] and again.status().patches == 1


def test_file_ids_are_stable_when_files_come_and_go(executor: LocalExecutor) -> None:
    before = {e.path: e.file_id for e in executor.files()}
    assert executor.apply("`src/extra.rs`:\n```rust\npub fn extra() {}\n```\n").ok
    after = {e.path: e.file_id for e in executor.files()}
    assert after["src/extra.rs"] == max(before.values()) + 1
    assert all(after[p] == i for p, i in before.items())
    executor.undo()
    assert "src/extra.rs" not in {e.path for e in executor.files()}
    assert executor.apply("`src/other.rs`:\n```rust\npub fn other() {}\n```\n").ok
    ids = {e.path: e.file_id for e in executor.files()}
    assert ids["src/other.rs"] == max(before.values()) + 2  # retired ids are never reused
    assert [e.path for e in executor.files("*.toml")] == ["Cargo.toml"]


def test_get_code_and_sandwich(executor: LocalExecutor, tmp_path: Path) -> None:
    ids = {e.path: e.file_id for e in executor.files()}
    code = executor.get_code(file_id=ids["src/date.rs"])
    assert code.path == "src/date.rs" and "adjust_to_monday" in code.text
    assert executor.get_code(path="src/date.rs").file_id == ids["src/date.rs"]
    with pytest.raises(NotFound):
        executor.get_code(file_id=9999)
    with pytest.raises(PathRefused):
        executor.get_code(path="../outside.rs")
    sandwich = executor.sandwich([ids["src/date.rs"], ids["Cargo.toml"]])
    assert f"=== file_id={ids['src/date.rs']} path=src/date.rs" in sandwich.text
    assert sandwich.saved_to and Path(sandwich.saved_to).read_text() == sandwich.text
    assert Path(sandwich.saved_to).parent == tmp_path / "home" / "sandwiches"


def test_good_patch_builds_and_passes(executor: LocalExecutor) -> None:
    applied = executor.apply(GOOD)
    assert applied.ok and applied.changed == ["src/date.rs"] and applied.formats == ["search-replace"]
    assert executor.check_compile().ok
    tests = executor.check_test("adjust_to_monday")
    assert tests.ok and {t.name.split("::")[-1] for t in tests.tests} >= {"adjust_to_monday_maps_every_day_of_a_week"}
    degradation = executor.check_degradation()
    assert degradation.ok and not degradation.regressions and not degradation.new_warnings


def test_compile_error_has_code_and_location(executor: LocalExecutor) -> None:
    assert executor.apply(BREAKS_BUILD).ok
    result = executor.check_compile()
    assert not result.ok
    error = result.errors[0]
    assert error.code in ("E0369", "E0277") and error.file == "src/date.rs" and error.line is not None


def test_degradation_names_a_newly_failing_test(executor: LocalExecutor) -> None:
    assert executor.apply(BREAKS_TEST).ok
    result = executor.check_degradation()
    assert not result.ok
    assert any("adjust_to_monday_maps_every_day_of_a_week" in r for r in result.regressions)
    logic = executor.check_test()
    failed = [t.name for t in logic.failed_tests]
    assert any("adjust_to_monday_maps_every_day_of_a_week" in name for name in failed)


def test_degradation_catches_a_new_warning(executor: LocalExecutor) -> None:
    assert executor.apply(NEW_WARNING).ok
    result = executor.check_degradation()
    assert not result.ok and not result.regressions
    assert [w.code for w in result.new_warnings] == ["dead_code"]
    assert result.new_warnings[0].file == "src/report.rs"


def test_commit_attribution_and_undo(executor: LocalExecutor, crate_copy: Path) -> None:
    original = (executor.ws.tree / "src/date.rs").read_text()
    with pytest.raises(NothingToCommit):
        executor.commit("nothing", GROK)
    with pytest.raises(NothingToUndo):
        executor.undo()
    assert executor.apply(GOOD).ok
    patched = (executor.ws.tree / "src/date.rs").read_text()
    result = executor.commit("Оптимизирована функция", GROK, ChatLink(chat_id="123", message_id="m7", url="https://grok.com/chat/123"))
    head = git.Repo(executor.ws.tree).head.commit
    assert head.hexsha == result.sha
    assert (head.author.name, head.author.email) == ("Grok", "grok@x.ai")
    assert head.committer.name == "Colloqium MCP"
    lines = head.message.splitlines()
    assert lines[0] == "From Grok: Оптимизирована функция (chat_id=123)"
    assert {"Chat-Id: 123", "Chat-Message-Id: m7", "Chat-Url: https://grok.com/chat/123"} <= set(lines)
    assert git.Repo(crate_copy).head.commit.hexsha != head.hexsha  # the user's branch is untouched

    undone = executor.undo()  # no patch pending: revert MCP's own last commit, as a new commit
    assert undone.undone == "commit" and (executor.ws.tree / "src/date.rs").read_text() == original
    assert git.Repo(executor.ws.tree).head.commit.parents[0].hexsha == result.sha  # history kept
    with pytest.raises(NothingToUndo):
        executor.undo()  # the revert is not reverted, and the user's commits never are
    assert patched != original


def test_a_commit_repeated_for_its_chat_message_returns_the_commit_made(executor: LocalExecutor, crate_copy: Path) -> None:
    """A bridge killed after git committed asks again on restart: it gets the same commit, not a second one or an error."""
    assert executor.apply(GOOD).ok
    link = ChatLink(chat_id="123", message_id="m8")
    first = executor.commit("once", GROK, link)
    again = executor.commit("once", GROK, link)
    assert again.sha == first.sha and again.files == first.files == ["src/date.rs"]
    assert again.author == str(GROK)
    assert len(list(git.Repo(executor.ws.tree).iter_commits())) == len(list(git.Repo(crate_copy).iter_commits())) + 1
    with pytest.raises(NothingToCommit):
        executor.commit("other", GROK, ChatLink(chat_id="123", message_id="m9"))


def test_git_locks_left_by_a_killed_process_are_cleared_on_start(executor: LocalExecutor) -> None:
    """A kill while git held its locks leaves them behind, and every later commit would fail."""
    ws = executor.ws
    branch_lock = Path(ws.repo.common_dir) / "refs" / "heads" / f"{ws.branch}.lock"
    index_lock = Path(ws.repo.git_dir) / "index.lock"
    for lock in (branch_lock, index_lock):
        lock.write_text("")
    executor.close()
    restarted = LocalExecutor(ws.project, executor.config)
    try:
        assert not branch_lock.exists() and not index_lock.exists()
        assert restarted.apply(GOOD).ok
        assert restarted.commit("after a crash", GROK).files == ["src/date.rs"]
    finally:
        restarted.close()


def test_undo_drops_only_the_last_patch(executor: LocalExecutor) -> None:
    original = {p: (executor.ws.tree / p).read_text() for p in ("src/date.rs", "src/report.rs")}
    assert executor.apply(GOOD).ok
    after_first = (executor.ws.tree / "src/date.rs").read_text()
    assert executor.apply(NEW_WARNING).ok
    assert executor.undo().undone == "patch"
    assert (executor.ws.tree / "src/report.rs").read_text() == original["src/report.rs"]
    assert (executor.ws.tree / "src/date.rs").read_text() == after_first
    executor.undo()
    assert (executor.ws.tree / "src/date.rs").read_text() == original["src/date.rs"]
    assert executor.status().pending == []


def test_undo_restores_a_file_changed_behind_its_back_and_says_so(executor: LocalExecutor) -> None:
    """Only patches and builds write the workspace, so undo puts the patch's files back whatever a build did."""
    original = (executor.ws.tree / "src/date.rs").read_text()
    assert executor.apply(GOOD).ok
    (executor.ws.tree / "src/date.rs").write_text("// rewritten by a build\n")
    undone = executor.undo()
    assert "src/date.rs (rewritten)" in undone.detail
    assert (executor.ws.tree / "src/date.rs").read_text() == original
    assert executor.status().pending == [] and executor.status().patches == 0


@pytest.mark.parametrize("swap", ["fifo", "symlink", "folder", "huge"])
def test_undo_replaces_whatever_a_build_left_in_a_patched_file(executor: LocalExecutor, tmp_path: Path, swap: str) -> None:
    """A FIFO, a link out of the tree, a folder or a huge file where the patch wrote: undo neither reads through,
    blocks on nor loads it, and restores the file in one rename."""
    original = (executor.ws.tree / "src/date.rs").read_text()
    assert executor.apply(GOOD).ok
    target = executor.ws.tree / "src/date.rs"
    target.unlink()
    outside = tmp_path / "outside.txt"
    outside.write_text("outside\n")
    if swap == "fifo":
        os.mkfifo(target)
    elif swap == "symlink":
        target.symlink_to(outside)
    elif swap == "folder":
        (target / "inner").mkdir(parents=True)
        (target / "inner" / "file.rs").write_text("x")
    else:
        with target.open("wb") as handle:
            handle.truncate(64 * 2**20)  # sparse: 64 MiB on paper
    with pytest.raises(SandboxError, match="src/date.rs"):  # a clear refusal, never a read through or a block
        executor.get_code(path="src/date.rs")
    undone = executor.undo()
    assert "src/date.rs (" in undone.detail
    assert target.is_file() and not target.is_symlink() and target.read_text() == original
    assert outside.read_text() == "outside\n"
    assert executor.status().pending == []


def test_a_file_a_build_grew_to_gigabytes_is_not_committed(executor: LocalExecutor) -> None:
    assert executor.apply(GOOD).ok
    with (executor.ws.tree / "src" / "grown.bin").open("wb") as handle:
        handle.truncate(2**31)  # sparse: 2 GiB on paper
    with pytest.raises(WorkspaceError, match=r"refused to commit files over .*src/grown\.bin"):
        executor.commit("grown", GROK)
    assert executor.status().patches == 1


def test_a_patch_into_an_ignored_path_is_refused(executor: LocalExecutor) -> None:
    """`target/` is in the crate's .gitignore: a file there would never be committed nor shown by `status`."""
    result = executor.apply("`target/notes.rs`:\n```rust\npub fn notes() {}\n```\n")
    assert not result.ok and "target/notes.rs is ignored by git" in (result.error or "")
    assert not (executor.ws.tree / "target").exists() and executor.status().patches == 0


def test_files_report_a_links_own_size_not_its_targets(executor: LocalExecutor, tmp_path: Path) -> None:
    outside = tmp_path / "big-outside.bin"
    outside.write_bytes(b"x" * 123_457)
    (executor.ws.tree / "src" / "outside.rs").symlink_to(outside)
    sizes = {e.path: e.size for e in executor.files()}
    assert sizes["src/outside.rs"] == len(str(outside))
    with pytest.raises(PathRefused, match="symlink"):
        executor.get_code(path="src/outside.rs")


def test_degradation_counts_a_new_failing_test(executor: LocalExecutor) -> None:
    """The base's tests all pass; a patch adding a test that fails degrades the project (21 passed, 1 failed)."""
    assert executor.apply("`tests/new_case.rs`:\n```rust\n#[test]\nfn new_case() {\n    assert_eq!(1 + 1, 3);\n}\n```\n").ok
    result = executor.check_degradation()
    assert not result.ok
    assert result.regressions == ["tests/new_case.rs::new_case (failed, new)"]


def test_refused_patch_changes_nothing(executor: LocalExecutor) -> None:
    before = (executor.ws.tree / "src/date.rs").read_text()
    result = executor.apply(GOOD + "\n" + replace("src/date.rs", "no such line", "x"))
    assert not result.ok and "no such line" in (result.hunk or result.error or "")
    assert (executor.ws.tree / "src/date.rs").read_text() == before and executor.status().patches == 0


def test_not_a_git_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(WorkspaceError, match="not a git repository"):
        LocalExecutor(tmp_path / "plain", SandboxConfig(home=tmp_path / "home"))


def test_a_committed_checked_patch_is_the_next_checks_base_without_building_it(executor: LocalExecutor) -> None:
    assert executor.apply(GOOD).ok
    first = executor.check_degradation()
    assert first.ok and first.base_duration is not None  # the base was built once
    executor.commit("checked", GROK)
    assert executor.apply(NEW_WARNING).ok
    second = executor.check_degradation()
    assert second.base_duration is None  # the committed tree's results came from the check before the commit
    assert [d.code for d in second.new_warnings] == ["dead_code"]


def test_a_tree_changed_after_its_check_is_built_again_as_the_base(executor: LocalExecutor) -> None:
    assert executor.apply(GOOD).ok
    assert executor.check_degradation().ok
    (executor.ws.tree / "src" / "extra.rs").write_text("// written after the check\n")
    executor.commit("checked, then changed", GROK)
    assert executor.apply(NEW_WARNING).ok
    assert executor.check_degradation().base_duration is not None
