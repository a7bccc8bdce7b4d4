"""The project replica MCP works in: a git worktree on its own branch, with persistent paths.

Builds write the worktree's tree, so git is only ever pointed at it from outside (see safegit):
its administrative git dir (in the project's `.git/worktrees/`) is found from the project, never
through the tree's `.git` file, and `.git` entries a build plants deeper in the tree are removed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import git
from loguru import logger

from sandbox.errors import WorkspaceError
from sandbox.safegit import SafeRepo, open_project, open_worktree

DEFAULT_BRANCH = "devspace/mcp"


class Workspace:
    """Paths and git handles of one project's workspace under the DevSpace home."""

    def __init__(self, project: Path, home: Path, branch: str = DEFAULT_BRANCH) -> None:
        self.project = project.resolve()
        self.branch = branch
        try:
            self.project_repo = open_project(self.project)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise WorkspaceError(f"{self.project.name}: not a git repository (run `git init` and commit first)") from exc
        if not self.project_repo.head.is_valid():
            raise WorkspaceError(f"{self.project.name}: the repository has no commit yet")
        key = hashlib.sha256(str(self.project).encode()).hexdigest()[:10]
        self.dir = home.resolve() / "workspaces" / f"{self.project.name}-{key}"
        self.tree = self.dir / "tree"
        self.target = self.dir / "target"
        self.base_tree = self.dir / "base"
        self.base_target = self.dir / "base-target"
        self.logs = self.dir / "logs"
        self.state_path = self.dir / "state.db"
        self._lock_path = self.dir / "lock"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.repo = self._ensure_worktree()

    def _admin_dir(self, tree: Path) -> Path | None:
        """The project's administrative git dir of the worktree at `tree` (`.git/worktrees/<name>`), if registered."""
        expected = tree / ".git"
        for admin in (Path(self.project_repo.common_dir) / "worktrees").glob("*"):
            try:
                named = Path((admin / "gitdir").read_text().strip())
            except OSError:
                continue
            if (admin / named).resolve() == expected:  # git 2.48 may write it relative to the admin dir
                return admin
        return None

    def _open(self, tree: Path) -> SafeRepo | None:
        admin = self._admin_dir(tree)
        if admin is None or not tree.is_dir():
            return None
        return open_worktree(admin, tree)

    def _ensure_worktree(self) -> SafeRepo:
        """Create the worktree on its branch once; later runs reuse it as it is."""
        repo = self._open(self.tree)
        if repo is not None:
            return repo
        self.project_repo.git.worktree("prune")
        heads = {h.name for h in self.project_repo.heads}
        try:
            if self.branch in heads:
                self.project_repo.git.worktree("add", str(self.tree), self.branch)
            else:
                self.project_repo.git.worktree("add", "-b", self.branch, str(self.tree), "HEAD")
        except git.GitCommandError as exc:
            reason = (exc.stderr or "").strip().splitlines()[-1:] or [str(exc)]
            raise WorkspaceError(f"cannot create the workspace of {self.project.name} on branch {self.branch}: {reason[0]}") from exc
        logger.info(f"workspace created: branch {self.branch} of {self.project.name}")
        repo = self._open(self.tree)
        if repo is None:
            raise WorkspaceError(f"the workspace of {self.project.name} was created but git does not list it")
        return repo

    def stale_locks(self) -> list[Path]:
        """Git lock files a killed process left in this workspace: its index, HEAD and branch locks.

        Only MCP works in the worktree and on its branch, and only under `locked()`, so a lock found
        while holding it is a crash's leftover that would make every later commit fail.
        """
        git_dir = Path(self.repo.git_dir)
        common = Path(self.repo.common_dir)
        found = [git_dir / "index.lock", git_dir / "HEAD.lock", common / "refs" / "heads" / f"{self.branch}.lock"]
        base_admin = self._admin_dir(self.base_tree)
        if base_admin is not None:
            found.append(base_admin / "index.lock")
        return [p for p in found if p.exists()]

    def remove_planted_git(self, tree: Path) -> list[str]:
        """Delete every `.git` entry (any case) below `tree`'s top: only a build makes them, and git would take a
        folder holding one for a nested repository. The top `.git` file is the sandbox's read-only bind."""
        removed: list[str] = []
        for folder, dirs, files in os.walk(tree):
            here = Path(folder)
            for name in [*dirs, *files]:
                if name.casefold() != ".git" or here == tree:
                    continue
                path = here / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path.relative_to(tree).as_posix())
            dirs[:] = [d for d in dirs if d.casefold() != ".git"]
        if removed:
            logger.warning(f"removed .git entries a build planted in the workspace: {', '.join(removed[:10])}")
        return removed

    @property
    def head(self) -> str:
        return self.repo.head.commit.hexsha

    def tracked_files(self) -> list[str]:
        """Tracked files plus new, not-ignored ones (regular files, and links that lead to one), posix paths relative to the tree."""
        out = self.repo.git.ls_files("--cached", "--others", "--exclude-standard", "-z")
        return sorted({p for p in out.split("\0") if p and _listed(self.tree / p)})

    def pending(self) -> list[str]:
        """Files that differ from HEAD (modified, added or deleted)."""
        out = self.repo.git.status("--porcelain", "-z", "--untracked-files=all", "--ignore-submodules=all")
        paths: list[str] = []
        entries = iter(out.split("\0"))
        for entry in entries:
            if not entry:
                continue
            status, path = entry[:2], entry[3:]
            if status.startswith("R"):
                next(entries, None)
            paths.append(path)
        return sorted(set(paths))

    def ignored(self, paths: list[str]) -> list[str]:
        """Those of `paths` (tree-relative) that git ignores and does not track: files there would never be committed."""
        found = []
        for path in paths:
            status, _, err = self.repo.git.check_ignore("-q", "--", path, with_extended_output=True, with_exceptions=False)
            if status == 0:
                found.append(path)
            elif status != 1:  # 1: not ignored
                raise WorkspaceError(f"git check-ignore failed: {err.strip()[:300]}")
        return found

    def checkout_base(self, sha: str) -> Path:
        """A detached worktree at `sha` for base-line builds (reused; its target persists)."""
        base = self._open(self.base_tree)
        if base is None:
            self.project_repo.git.worktree("prune")
            self.project_repo.git.worktree("add", "--detach", str(self.base_tree), sha)
            return self.base_tree
        self.remove_planted_git(self.base_tree)
        if base.head.commit.hexsha != sha:
            base.git.checkout("--detach", "--force", sha)
            base.git.clean("-fdx", "-e", "target")
        return self.base_tree

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialize operations on this workspace across threads and processes."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _listed(path: Path) -> bool:
    """A regular file, or a symlink whose target is one (stat never blocks, whatever the target is)."""
    try:
        return path.is_file()
    except OSError:
        return False
