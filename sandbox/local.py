"""The in-process Executor: a persistent git worktree, the applier, cargo and git."""

from __future__ import annotations

import fnmatch
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from loguru import logger

from sandbox import cargo, degradation, gitops, preflight, treeio
from sandbox.config import SandboxConfig
from sandbox.deps import Dependencies
from sandbox.errors import (
    NotFound,
    NothingToUndo,
    PatchRefused,
    SandboxError,
    WorkspaceError,
)
from sandbox.executor import Handlers, handles
from sandbox.isolation import isolation_available
from sandbox.models import (
    ApplyResult,
    ChatLink,
    CheckResult,
    CodeFile,
    CommitResult,
    FileChange,
    FileEntry,
    Identity,
    Preflight,
    Sandwich,
    UndoResult,
    WorkspaceStatus,
    sandwich_text,
)
from sandbox.operations import (
    ApplyRequest,
    CheckCompileRequest,
    CheckDegradationRequest,
    CheckTestRequest,
    CommitRequest,
    FilesRequest,
    GetCodeRequest,
    PreflightRequest,
    SandwichRequest,
    StatusRequest,
    UndoRequest,
)
from sandbox.patch import apply_payload
from sandbox.patch.write import resume_write
from sandbox.paths import confine, relative, unlinked
from sandbox.state import WorkspaceState
from sandbox.workspace import Workspace

T = TypeVar("T")
BUILD_OUTPUTS = ("Cargo.lock",)
"""Files cargo writes in the tree when the manifests change: each belongs to the patch that caused it (rolled back and
undone with it), and one cargo made where the repository has none is left out of `status` and `commit`."""
MAX_FILE_BYTES = 2_000_000
"""The largest file `get_code` and `sandwich` read into the chat."""


class LocalExecutor(Handlers):
    """Runs every request against the project's workspace, one at a time (the Executor contract: `sandbox.executor`)."""

    def __init__(self, project: Path, config: SandboxConfig) -> None:
        self.config = config
        self.ws = Workspace(project, config.home, config.branch)
        self.deps = Dependencies.of(self.ws.project, config.cargo_home, self.ws.project_repo.git.ls_files("-z").split("\0"))
        self.state = WorkspaceState(self.ws.state_path)
        self._checked: tuple[str, CheckResult, CheckResult] | None = None
        """The tree id the last degradation check built and tested, with its results: the base's, once committed."""
        self._locked(self._recover)

    def close(self) -> None:
        self.state.close()

    def _recover(self) -> None:
        """Clear git locks, `.git` entries a build planted before a crash, and finish a patch write that a crash cut
        short (a patch is recorded before any file is written)."""
        self.ws.remove_planted_git(self.ws.tree)
        for lock in self.ws.stale_locks():
            logger.warning(f"removing {lock.name} left by a process that was killed mid-way through git")
            lock.unlink(missing_ok=True)
        last = self.state.last_patch()
        if last is None:
            return
        seq, changes = last
        try:
            outcome = resume_write(self.ws.tree, [c for c in changes if not c.build_output])
        except (SandboxError, OSError) as exc:
            logger.warning(f"patch #{seq} could not be checked after a restart: {exc}")
            return
        if outcome == "unwritten":
            self.state.drop_patch(seq)  # the crash came before the first file; the command applies it again
        elif outcome == "conflict":
            logger.warning(f"patch #{seq} is neither applied nor absent in the workspace; `undo` will refuse it")

    def _locked(self, fn: Callable[[], T]) -> T:
        with self.ws.locked():
            return fn()

    # files ------------------------------------------------------------------------
    def _sync_ids(self) -> dict[str, int]:
        return self.state.sync_file_ids(self.ws.tracked_files())

    @handles(FilesRequest)
    def files(self, glob: str | None = None) -> list[FileEntry]:
        def run() -> list[FileEntry]:
            ids = self._sync_ids()
            pattern = glob if glob is None or any(c in glob for c in "*?[") else f"*{glob}*"
            return [
                FileEntry(file_id=i, path=p, size=_size(self.ws.tree / p))
                for p, i in ids.items()
                if pattern is None or fnmatch.fnmatch(p, pattern)
            ]

        return self._locked(run)

    def _resolve(self, file_id: int | None, path: str | None) -> tuple[int, str]:
        ids = self._sync_ids()
        if file_id is not None:
            for p, i in ids.items():
                if i == file_id:
                    return i, p
            raise NotFound(f"no file with file_id={file_id}")
        if path is None:
            raise NotFound("give a file_id or a path")
        rel = relative(self.ws.tree, path)
        if rel not in ids:
            raise NotFound(f"no tracked file at {rel}")
        return ids[rel], rel

    def _read(self, rel: str) -> str:
        path = confine(self.ws.tree, rel)  # a file id may name a link that a build has pointed outside
        try:
            data = treeio.read_file(path, shown=rel, cap=MAX_FILE_BYTES)
        except FileNotFoundError:
            raise NotFound(f"{rel} is gone from the workspace") from None
        if b"\0" in data:
            raise SandboxError(f"{rel} is a binary file")
        return data.decode("utf-8", errors="replace")

    @handles(GetCodeRequest)
    def get_code(self, file_id: int | None = None, path: str | None = None) -> CodeFile:
        def run() -> CodeFile:
            fid, rel = self._resolve(file_id, path)
            return CodeFile(file_id=fid, path=rel, text=self._read(rel))

        return self._locked(run)

    @handles(SandwichRequest)
    def sandwich(self, file_ids: list[int]) -> Sandwich:
        def run() -> Sandwich:
            if not file_ids:
                raise NotFound("give at least one file_id")
            codes = [CodeFile(file_id=fid, path=rel, text=self._read(rel)) for fid, rel in (self._resolve(i, None) for i in file_ids)]
            paths = [code.path for code in codes]
            bundle = sandwich_text(codes)
            folder = self.config.sandwich_dir
            folder.mkdir(parents=True, exist_ok=True)
            name = f"sandwich-{datetime.now():%Y%m%d-%H%M%S-%f}-{'-'.join(map(str, file_ids))[:80]}.txt"
            (folder / name).write_text(bundle, encoding="utf-8")
            return Sandwich(file_ids=file_ids, paths=paths, text=bundle, saved_to=str(folder / name))

        return self._locked(run)

    # edits --------------------------------------------------------------------------
    @handles(ApplyRequest)
    def apply(self, payload: str, file_id: int | None = None) -> ApplyResult:
        def run() -> ApplyResult:
            ids = self._sync_ids()
            default_path = None
            if file_id is not None:
                default_path = next((p for p, i in ids.items() if i == file_id), None)
                if default_path is None:
                    raise NotFound(f"no file with file_id={file_id}")
            result = apply_payload(self.ws.tree, payload, resolve_id=self.state.path_of, default_path=default_path, record=self._recorded)
            if result.ok:
                self._sync_ids()
            return result

        return self._locked(run)

    @contextmanager
    def _recorded(self, changes: list[FileChange]) -> Iterator[None]:
        """A patch is refused when git ignores a file of it (`target/`, …: no `status` or `commit` would ever see it),
        and recorded before its first file is written, so undo and crash recovery know it."""
        ignored = self.ws.ignored([c.path for c in changes])
        if ignored:
            raise PatchRefused(
                f"refused: {', '.join(ignored[:5])} {'is' if len(ignored) == 1 else 'are'} ignored by git (.gitignore), "
                "so neither `status` nor `commit` would ever see it; nothing was written"
            )
        seq = self.state.push_patch(changes + self._build_outputs(changes))
        try:
            yield
        except BaseException:
            self.state.drop_patch(seq)
            raise
        logger.info(f"applied patch #{seq}: {', '.join(c.path for c in changes)}")

    def _build_outputs(self, changes: list[FileChange]) -> list[FileChange]:
        """The build outputs a patch does not edit itself, as they are before it (restored when it is dropped)."""
        edited = {c.path for c in changes}
        out = []
        for path in BUILD_OUTPUTS:
            if path in edited:
                continue
            try:
                text = treeio.read_text_or_none(unlinked(self.ws.tree, path), shown=path)
            except treeio.NotARegularFile:
                continue  # a build made it something else: undo does not know it
            out.append(FileChange(path=path, before=text, after=text, build_output=True))
        return out

    def _generated(self) -> list[str]:
        """Build outputs cargo made where the repository has none and no applied patch created: never committed unasked."""
        tracked = set(self.ws.repo.git.ls_files("-z", "--", *BUILD_OUTPUTS).split("\0"))
        created = {c.path for c in self.state.patch_changes() if not c.build_output}
        return [p for p in BUILD_OUTPUTS if p not in tracked and p not in created and (self.ws.tree / p).is_file()]

    def _pending(self) -> list[str]:
        generated = self._generated()
        return [p for p in self.ws.pending() if p not in generated]

    @handles(UndoRequest)
    def undo(self) -> UndoResult:
        def run() -> UndoResult:
            last = self.state.last_patch()
            if last is not None:
                return self._drop_patch(*last)
            sha = self.state.last_revertible_commit()
            if sha is None or not self.ws.repo.is_ancestor(sha, self.ws.head):
                raise NothingToUndo("nothing to undo: no applied patch and no MCP commit to revert")
            result = gitops.revert_commit(self.ws.repo, sha, self.config.committer, leave=self._generated())
            self.state.record_commit(result.sha, reverts=sha)
            return UndoResult(undone="commit", detail=f"reverted {sha[:10]} with {result.sha[:10]}", files=result.files, sha=result.sha)

        return self._locked(run)

    def _drop_patch(self, seq: int, changes: list[FileChange]) -> UndoResult:
        """Put every file of the patch back as it was before it, whatever stands there now (a build may have
        rewritten it, or swapped in a FIFO, a link or a folder), and say which files were not as the patch left them."""
        targets = [unlinked(self.ws.tree, c.path) for c in changes]  # refuses before anything is written
        altered = [f"{c.path} ({how})" for c, t in zip(changes, targets, strict=True) if not c.build_output and (how := _altered(t, c))]
        rewritten = [c.path for c, t in zip(changes, targets, strict=True) if c.build_output and _altered(t, c)]
        for change, target in zip(changes, targets, strict=True):
            try:
                treeio.restore(target, change.before, _regular_mode(target))
            except OSError as exc:
                raise WorkspaceError(f"cannot restore {change.path}: {exc.strerror or exc}") from exc
        self.state.drop_patch(seq)
        files = [c.path for c in changes if not c.build_output] + rewritten
        detail = f"dropped the last applied patch ({len(files)} file(s))"
        if altered:
            detail += "; restored files a build had changed: " + ", ".join(altered)
            logger.warning(f"undo of patch #{seq}: {detail}")
        return UndoResult(undone="patch", detail=detail, files=files)

    @handles(CommitRequest)
    def commit(self, message: str, author: Identity, chat: ChatLink | None = None) -> CommitResult:
        def run() -> CommitResult:
            self._refuse_oversized(self._pending())
            result = gitops.commit_all(self.ws.repo, message, author, self.config.committer, chat, leave=self._generated())
            self._keep_checked_as_base(result.sha)
            self.state.record_commit(result.sha)
            self.state.clear_patches()
            logger.info(f"committed {result.sha[:10]} by {author.name}: {len(result.files)} file(s)")
            return result

        return self._locked(run)

    def _keep_checked_as_base(self, sha: str) -> None:
        """When the commit holds exactly the tree the last degradation check built and tested, its results are the new
        base's: the next patch's check builds nothing but the patch."""
        checked, self._checked = self._checked, None
        if checked is not None and checked[0] == self.ws.repo.commit(sha).tree.hexsha:
            self.state.save_base_result(sha, "compile", checked[1])
            self.state.save_base_result(sha, "test", checked[2])

    def _refuse_oversized(self, paths: list[str]) -> None:
        """A build may grow a file to gigabytes; none over the read cap goes into the project's history."""
        big = [f"{p} ({size} bytes)" for p in paths if (size := _size(self.ws.tree / p)) > treeio.READ_CAP]
        if big:
            raise WorkspaceError(f"refused to commit files over {treeio.READ_CAP} bytes: {', '.join(big[:5])}; undo the patch or remove them")

    # checks ---------------------------------------------------------------------------
    def _log_path(self, kind: str) -> Path:
        logs = sorted(self.ws.logs.glob("*.log"))
        for old in logs[: max(0, len(logs) - self.config.keep_logs + 1)]:
            old.unlink(missing_ok=True)
        return self.ws.logs / f"{datetime.now():%Y%m%d-%H%M%S-%f}-{kind}.log"

    @handles(CheckCompileRequest)
    def check_compile(self) -> CheckResult:
        return self._locked(lambda: self._compile(self.ws.tree, self.ws.target))

    @handles(CheckTestRequest)
    def check_test(self, filter: str | None = None) -> CheckResult:
        return self._locked(lambda: self._tests(self.ws.tree, self.ws.target, filter))

    def _tree_at(self, tree: Path) -> Path:
        return cargo.BASE if tree == self.ws.base_tree else cargo.WORKSPACE

    def _claim_target(self, tree: Path) -> None:
        """Before `tree` builds into the target dir the other tree built into last: cargo names the project's own
        artifacts alike for both trees (a path source hashes its path relative to the workspace root) and judges them
        fresh by mtime, so every file of `tree` is touched and its crates rebuild; the dependencies' artifacts stay.
        The record of the last tree lives outside the target dir, where no build writes."""
        record = self.ws.dir / "target-built-from"
        last = record.read_text(encoding="utf-8") if record.is_file() else None
        if last == str(tree):
            return
        if last is not None:
            _touch_tree(tree)
        record.write_text(str(tree), encoding="utf-8")

    def _compile(self, tree: Path, target: Path) -> CheckResult:
        self._claim_target(tree)
        log = self._log_path("compile")
        try:
            return cargo.check_compile(
                tree, target_dir=target, limits=self.config.limits, log_path=log, deps=self.deps, tree_at=self._tree_at(tree)
            )
        finally:
            self.ws.remove_planted_git(tree)

    def _tests(self, tree: Path, target: Path, filter: str | None = None) -> CheckResult:
        self._claim_target(tree)
        log = self._log_path("test")
        try:
            return cargo.check_test(
                tree, filter, target_dir=target, limits=self.config.limits, log_path=log, deps=self.deps, tree_at=self._tree_at(tree)
            )
        finally:
            self.ws.remove_planted_git(tree)

    @handles(CheckDegradationRequest)
    def check_degradation(self) -> CheckResult:
        def run() -> CheckResult:
            sha = self.ws.head
            started = time.monotonic()
            base_build, base_tests, base_duration = self._base_results(sha)
            tree = gitops.worktree_tree(self.ws.repo, leave=self._generated())
            build = self._compile(self.ws.tree, self.ws.target)
            tests = self._tests(self.ws.tree, self.ws.target)
            clean = not (build.timed_out or tests.timed_out or build.environment or tests.environment)
            untouched = tree == gitops.worktree_tree(self.ws.repo, leave=self._generated())  # no build rewrote a file
            self._checked = (tree, build, tests) if clean and untouched else None
            result = degradation.compare(base_build, base_tests, build, tests, sha, base_duration=base_duration)
            logger.info(f"degradation vs {sha[:10]}: ok={result.ok} in {time.monotonic() - started:.1f}s")
            return result

        return self._locked(run)

    def _base_results(self, sha: str) -> tuple[CheckResult, CheckResult, float | None]:
        """The base commit's build and tests, computed once per commit and cached, with the seconds they took when
        computed now (None from the cache). With nothing pending the workspace's tree is the base, so it is built in
        place; else the base's tree is built into the workspace's target dir (seen at BASE), reusing the dependencies'
        artifacts: never a second cold build. A run the environment failed or that timed out is not kept."""
        build = self.state.base_result(sha, "compile")
        tests = self.state.base_result(sha, "test")
        if build is not None and tests is not None:
            return build, tests, None
        in_place = not self._pending() and self.state.patch_count() == 0
        logger.info(f"building base {sha[:10]} for degradation checks" + (" in the workspace" if in_place else ""))
        tree = self.ws.tree if in_place else self.ws.checkout_base(sha)
        build = self._compile(tree, self.ws.target)
        tests = self._tests(tree, self.ws.target)
        if not (build.timed_out or tests.timed_out or build.environment or tests.environment):
            self.state.save_base_result(sha, "compile", build)
            self.state.save_base_result(sha, "test", tests)
        return build, tests, build.duration + tests.duration

    @handles(PreflightRequest)
    def preflight(self) -> Preflight:
        """The attach-time look at the environment: the setup findings, and the base commit's build and tests computed
        once per commit (so the first degradation check builds only the patch), as a degradation of the base against
        itself whose environment issue, if any, says what to fix before any patch."""

        def run() -> Preflight:
            sha = self.ws.head
            warnings, notes = preflight.source_findings(self.deps)
            found = (preflight.lock_warning(self.ws.tree, self.deps), preflight.toolchain_warning(self.ws.tree), preflight.disk_warning(self.ws.dir))
            warnings += [w for w in found if w]
            build, tests, took = self._base_results(sha)
            base = degradation.compare(build, tests, build, tests, sha).model_copy(update={"duration": took or 0.0})
            return Preflight(ok=base.ok and not warnings, base=base, warnings=warnings, notes=notes)

        return self._locked(run)

    @handles(StatusRequest)
    def status(self) -> WorkspaceStatus:
        def run() -> WorkspaceStatus:
            limits = self.config.limits
            isolated = limits.isolation != "none" and isolation_available()
            return WorkspaceStatus(
                project=self.ws.project.name,
                workspace=str(self.ws.tree),
                branch=self.ws.branch,
                head=self.ws.head,
                base_commit=self.ws.head,
                pending=self._pending(),
                patches=self.state.patch_count(),
                mcp_commits=self.state.commit_count(),
                isolation="bwrap" if isolated else "none",
            )

        return self._locked(run)


def _touch_tree(tree: Path) -> None:
    """Set every regular file's mtime under `tree` (its `.git` aside) to now; links and their targets are left alone."""
    for folder, dirs, files in os.walk(tree):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            path = Path(folder) / name
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.utime(path, follow_symlinks=False)


def _size(path: Path) -> int:
    """A listed file's size; a link's own (the length of its target's name), so nothing outside is measured."""
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _regular_mode(path: Path) -> int | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return stat.S_IMODE(info.st_mode) & 0o777 if stat.S_ISREG(info.st_mode) else None  # never a set-id bit a build set


def _altered(target: Path, change: FileChange) -> str | None:
    """How the file at `target` differs from what the patch left there, or None when it does not."""
    try:
        current = treeio.read_text_or_none(target, shown=change.path)
    except treeio.NotARegularFile:
        return f"now {treeio.what_is_at(target) or 'not the text the patch wrote'}"
    if current == change.after:
        return None
    return "deleted" if current is None else "rewritten"
