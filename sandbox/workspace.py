"""The project replica MCP works in: a git worktree on its own branch, with persistent paths."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import git
from loguru import logger

from sandbox.errors import WorkspaceError

DEFAULT_BRANCH = "devspace/mcp"


class Workspace:
    """Paths and git handles of one project's workspace under the DevSpace home."""

    def __init__(self, project: Path, home: Path, branch: str = DEFAULT_BRANCH) -> None:
        self.project = project.resolve()
        self.branch = branch
        try:
            self.project_repo = git.Repo(self.project)
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

    def _ensure_worktree(self) -> git.Repo:
        """Create the worktree on its branch once; later runs reuse it as it is."""
        if (self.tree / ".git").exists():
            return git.Repo(self.tree)
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
        return git.Repo(self.tree)

    def stale_locks(self) -> list[Path]:
        """Git lock files a killed process left in this workspace: its index, HEAD and branch locks.

        Only MCP works in the worktree and on its branch, and only under `locked()`, so a lock found
        while holding it is a crash's leftover that would make every later commit fail.
        """
        git_dir = Path(self.repo.git_dir)
        common = Path(self.repo.common_dir)
        found = [git_dir / "index.lock", git_dir / "HEAD.lock", common / "refs" / "heads" / f"{self.branch}.lock"]
        if (self.base_tree / ".git").exists():
            found.append(Path(git.Repo(self.base_tree).git_dir) / "index.lock")
        return [p for p in found if p.exists()]

    @property
    def head(self) -> str:
        return self.repo.head.commit.hexsha

    def tracked_files(self) -> list[str]:
        """Tracked files plus new, not-ignored ones, as posix paths relative to the tree."""
        out = self.repo.git.ls_files("--cached", "--others", "--exclude-standard", "-z")
        return sorted({p for p in out.split("\0") if p and (self.tree / p).is_file()})

    def pending(self) -> list[str]:
        """Files that differ from HEAD (modified, added or deleted)."""
        out = self.repo.git.status("--porcelain", "-z", "--untracked-files=all")
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

    def checkout_base(self, sha: str) -> Path:
        """A detached worktree at `sha` for base-line builds (reused; its target persists)."""
        if (self.base_tree / ".git").exists():
            base = git.Repo(self.base_tree)
            if base.head.commit.hexsha != sha:
                base.git.checkout("--detach", "--force", sha)
                base.git.clean("-fdx", "-e", "target")
        else:
            self.project_repo.git.worktree("prune")
            self.project_repo.git.worktree("add", "--detach", str(self.base_tree), sha)
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
