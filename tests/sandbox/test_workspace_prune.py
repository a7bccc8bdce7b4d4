"""The developer's git housekeeping never breaks the sandbox: its worktree is registered in their repository
under a path that may exist only inside the sandbox's container, where the host's git sees it as prunable."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from sandbox.config import SandboxConfig
from sandbox.local import LocalExecutor
from sandbox.models import Identity

pytestmark = pytest.mark.cargo
GROK = Identity(name="Grok", email="grok@x.ai")
CHANGE = "src/date.rs\n```rust\n<<<<<<< SEARCH\n    day\n}\n=======\n    day // checked\n}\n>>>>>>> REPLACE\n```\n"


@pytest.fixture
def executor(tmp_path: Path, crate_copy: Path) -> Iterator[LocalExecutor]:
    ex = LocalExecutor(crate_copy, SandboxConfig(home=tmp_path / "home"))
    yield ex
    ex.close()


def host_prune(project: Path, tree: Path, *, unlock: bool = False) -> None:
    """`git worktree prune` as the host sees the repository: the sandbox's tree is not at its path there."""
    repo = git.Repo(project)
    if unlock:
        repo.git.worktree("unlock", str(tree))
    hidden = tree.with_name("elsewhere")
    tree.rename(hidden)
    try:
        repo.git.worktree("prune")
        repo.git.gc("--quiet")
    finally:
        hidden.rename(tree)


def test_a_host_side_prune_leaves_the_workspace_registered(executor: LocalExecutor, crate_copy: Path) -> None:
    assert executor.apply(CHANGE).ok
    host_prune(crate_copy, executor.ws.tree)
    status = executor.status()
    assert status.pending == ["src/date.rs"] and status.patches == 1
    assert "locked" in git.Repo(crate_copy).git.worktree("list", "--porcelain")


def test_a_registration_pruned_anyway_is_made_again_in_place(executor: LocalExecutor, crate_copy: Path) -> None:
    """Pending changes survive, the commit lands on the branch, and a restart finds the workspace."""
    assert executor.apply(CHANGE).ok
    host_prune(crate_copy, executor.ws.tree, unlock=True)
    assert executor.status().pending == ["src/date.rs"]
    listed = git.Repo(crate_copy).git.worktree("list", "--porcelain").split("\n\n")
    assert len(listed) == 2 and "locked" in listed[1]  # the checkout and the workspace, nothing left of the re-registration
    assert executor.commit("after a prune", GROK).files == ["src/date.rs"]
    assert git.Repo(crate_copy).commit("devspace/mcp").message.endswith("after a prune\n")

    host_prune(crate_copy, executor.ws.tree, unlock=True)
    executor.close()
    restarted = LocalExecutor(crate_copy, executor.config)
    try:
        assert restarted.status().pending == []
        assert restarted.apply(CHANGE.replace("=======\n    day", "=======\n    day // again").replace("    day\n}\n=", "    day // checked\n}\n=")).ok
        assert restarted.status().pending == ["src/date.rs"]
    finally:
        restarted.close()


def test_a_missing_tree_is_checked_out_again(executor: LocalExecutor, crate_copy: Path) -> None:
    shutil.rmtree(executor.ws.tree)
    assert executor.status().pending == []
    assert (executor.ws.tree / "src/date.rs").is_file()
    executor.close()
    shutil.rmtree(executor.ws.tree)
    restarted = LocalExecutor(crate_copy, executor.config)
    try:
        assert restarted.status().pending == []
    finally:
        restarted.close()
