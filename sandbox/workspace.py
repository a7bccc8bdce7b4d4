"""The project replica MCP works in: a git worktree on its own branch, with persistent paths.

Builds write the worktree's tree, so git is only ever pointed at it from outside (see safegit):
its administrative git dir (in the project's `.git/worktrees/`) is found from the project, never
through the tree's `.git` file, and `.git` entries a build plants deeper in the tree are removed.

The worktrees are registered in the developer's own repository, under paths that may exist only
inside the sandbox's container, so the developer's git housekeeping must not break them: they are
locked (`git worktree lock`, which `git worktree prune` and `git gc` respect), the sandbox never runs
a repository-wide `git worktree prune` itself (in its container the developer's own worktrees look
missing too), and a registration that is gone anyway is made again in place before the next
operation, keeping the tree's files, its pending changes and its build.
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
LOCK_REASON = "DevSpace sandbox workspace; its path may exist only inside the sandbox's container: do not prune"
"""Why the worktrees are locked, as `git worktree list` shows it."""


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
        """The worktree on its branch, registered and locked in the project: reused as it is, registered again in place
        when the project's git forgot it (its files, pending changes and build kept), created when it is missing."""
        repo = self._open(self.tree)
        if repo is None:
            self._forget(self.tree)
            if self.tree.is_dir() and any(self.tree.iterdir()):
                repo = self._reattach(self.tree)
            else:
                self._add(self.tree, self._on_branch(self.tree))
                logger.info(f"workspace created: branch {self.branch} of {self.project.name}")
                repo = self._open(self.tree)
        if repo is None:
            raise WorkspaceError(f"the workspace of {self.project.name} was created but git does not list it")
        self._lock(self.tree)
        return repo

    def _add(self, tree: Path, args: list[str]) -> None:
        """`git worktree add --lock` with `args`; a clear WorkspaceError when git refuses."""
        try:
            self.project_repo.git.worktree("add", "--lock", "--reason", LOCK_REASON, *args)
        except git.GitCommandError as exc:
            reason = (exc.stderr or "").strip().splitlines()[-1:] or [str(exc)]
            raise WorkspaceError(f"cannot create the workspace of {self.project.name} on branch {self.branch}: {reason[0]}") from exc

    def _on_branch(self, tree: Path) -> list[str]:
        """`git worktree add` arguments for `tree` on the workspace's branch (made from HEAD when it does not exist)."""
        if self.branch in {h.name for h in self.project_repo.heads}:
            return [str(tree), self.branch]
        return ["-b", self.branch, str(tree), "HEAD"]

    def _reattach(self, tree: Path) -> SafeRepo | None:
        """Register an existing tree again: a new administrative dir (checked out nowhere) with its index read from the
        branch (`git read-tree`: no ref is locked or moved), whose `.git` file then replaces the tree's, and `git worktree
        repair` to point it back at the tree. The files stay as they are, so what was pending stays pending; a step
        that fails drops the new registration again."""
        logger.warning(f"the project's git no longer lists the workspace of {self.project.name} (a `git worktree prune`?); registering it again")
        staging = self.dir / "reattach" / tree.name  # its name becomes the administrative dir's
        shutil.rmtree(staging.parent, ignore_errors=True)
        staging.parent.mkdir()
        self._add(staging, ["--no-checkout", *self._on_branch(staging)])
        try:
            admin = self._admin_dir(staging)
            if admin is None:
                raise WorkspaceError(f"git does not list the new registration of the workspace of {self.project.name}")
            open_worktree(admin, staging).git.read_tree("HEAD")
            os.replace(staging / ".git", tree / ".git")
            self.project_repo.git.worktree("repair", str(tree))
        except (git.GitCommandError, OSError) as exc:
            if staging.exists():
                self.project_repo.git.worktree("remove", "--force", "--force", str(staging), with_exceptions=False)
            raise WorkspaceError(f"cannot register the workspace of {self.project.name} again: {exc}") from exc
        finally:
            shutil.rmtree(staging.parent, ignore_errors=True)
        return self._open(tree)

    def _forget(self, tree: Path) -> None:
        """Drop this workspace's own registration of `tree` when the tree is gone (never anyone else's)."""
        if not tree.exists() and self._admin_dir(tree) is not None:
            self.project_repo.git.worktree("remove", "--force", "--force", str(tree))

    def _lock(self, tree: Path) -> None:
        """Lock the worktree at `tree` against pruning (registrations made before locking existed included)."""
        admin = self._admin_dir(tree)
        if admin is not None and not (admin / "locked").exists():
            self.project_repo.git.worktree("lock", "--reason", LOCK_REASON, str(tree))

    def _registered(self) -> bool:
        """Whether the worktree is still there and the project's git still lists it where it is (cheap: stats and a read)."""
        git_dir = Path(self.repo.git_dir)
        expected = self.tree / ".git"
        try:
            return (
                expected.is_file()
                and (git_dir / "HEAD").is_file()
                and (git_dir / (git_dir / "gitdir").read_text().strip()).resolve() == expected
            )
        except OSError:
            return False

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
        """A detached worktree at `sha` for base-line builds (reused; its target persists). Its tree is disposable: one
        the project's git no longer lists is checked out anew."""
        base = self._open(self.base_tree)
        if base is None:
            self._forget(self.base_tree)
            shutil.rmtree(self.base_tree, ignore_errors=True)
            self._add(self.base_tree, ["--detach", str(self.base_tree), sha])
            return self.base_tree
        self._lock(self.base_tree)
        self.remove_planted_git(self.base_tree)
        if base.head.commit.hexsha != sha:
            base.git.checkout("--detach", "--force", sha)
            base.git.clean("-fdx", "-e", "target")
        return self.base_tree

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialize operations on this workspace across threads and processes; each starts on a registered worktree."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not self._registered():
                self.repo = self._ensure_worktree()
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
