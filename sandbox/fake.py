"""An Executor for tests of the chat side: real files and the real applier, scripted checks, no git and no cargo.

It keeps the Executor contract (`sandbox.executor`), errors included: the project's files live in a
scratch directory, patches go through the same applier as `LocalExecutor` (so a patch is placed or
refused exactly as it would be), checks return the results a test scripts for them (an OK result
when none is left), and commits and reverts are recorded in memory.
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sandbox.errors import NotFound, NothingToCommit, NothingToUndo
from sandbox.executor import Handlers, handles
from sandbox.gitops import commit_message
from sandbox.models import (
    Preflight,
    ApplyResult,
    ChatLink,
    CheckKind,
    CheckResult,
    CodeFile,
    CommitResult,
    FileChange,
    FileEntry,
    Identity,
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
    Request,
    SandwichRequest,
    StatusRequest,
    UndoRequest,
    operation_of,
)
from sandbox.patch import apply_payload
from sandbox.paths import relative

R = TypeVar("R")
Snapshot = dict[str, str]


class FakeExecutor(Handlers):
    """`files` maps project paths to their text; `script(kind, result, …)` queues what the next checks of a kind return."""

    def __init__(self, files: dict[str, str]) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="devspace-fake-"))
        for path, text in files.items():
            target = self.root / relative(self.root, path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        self.ids = {path: number for number, path in enumerate(sorted(files), 1)}
        self.base: Snapshot = self._snapshot()
        self.patches: list[Snapshot] = []
        self.commits: list[tuple[CommitResult, Snapshot, ChatLink | None]] = []
        self.checks: dict[CheckKind, deque[CheckResult]] = {"compile": deque(), "test": deque(), "degradation": deque()}
        self.calls: list[str] = []
        """The operations run, in order."""

    def script(self, kind: CheckKind, *results: CheckResult) -> None:
        """The next checks of `kind` return `results`, in order."""
        self.checks[kind].extend(results)

    def run(self, request: Request[R]) -> R:
        self.calls.append(operation_of(request).name)
        return super().run(request)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # helpers --------------------------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        return {str(p.relative_to(self.root)): p.read_text(encoding="utf-8") for p in sorted(self.root.rglob("*")) if p.is_file()}

    def _restore(self, snapshot: Snapshot) -> list[str]:
        now = self._snapshot()
        for path in now.keys() - snapshot.keys():
            (self.root / path).unlink()
        for path, text in snapshot.items():
            (self.root / path).parent.mkdir(parents=True, exist_ok=True)
            (self.root / path).write_text(text, encoding="utf-8")
        return sorted(p for p in now.keys() | snapshot.keys() if now.get(p) != snapshot.get(p))

    def _sync(self) -> None:
        for path in sorted(self._snapshot()):
            self.ids.setdefault(path, max(self.ids.values(), default=0) + 1)

    def _resolve(self, file_id: int | None, path: str | None) -> tuple[int, str]:
        if file_id is not None:
            found = next((p for p, i in self.ids.items() if i == file_id and (self.root / p).is_file()), None)
            if found is None:
                raise NotFound(f"no file with file_id={file_id}")
            return file_id, found
        rel = relative(self.root, path or "")
        if rel not in self.ids or not (self.root / rel).is_file():
            raise NotFound(f"no tracked file at {rel}")
        return self.ids[rel], rel

    def _check(self, kind: CheckKind, test_filter: str | None = None) -> CheckResult:
        queued = self.checks[kind]
        result = queued.popleft() if queued else CheckResult(kind=kind, ok=True)
        return result.model_copy(update={"filter": test_filter}) if kind == "test" else result

    def _head(self) -> str:
        return self.commits[-1][0].sha if self.commits else "0" * 40

    # the operations -------------------------------------------------------------------------
    @handles(FilesRequest)
    def files(self, glob: str | None = None) -> list[FileEntry]:
        self._sync()
        pattern = glob if glob is None or any(c in glob for c in "*?[") else f"*{glob}*"
        return [
            FileEntry(file_id=i, path=p, size=(self.root / p).stat().st_size)
            for p, i in self.ids.items()
            if (self.root / p).is_file() and (pattern is None or fnmatch.fnmatch(p, pattern))
        ]

    @handles(GetCodeRequest)
    def get_code(self, file_id: int | None = None, path: str | None = None) -> CodeFile:
        number, rel = self._resolve(file_id, path)
        return CodeFile(file_id=number, path=rel, text=(self.root / rel).read_text(encoding="utf-8"))

    @handles(SandwichRequest)
    def sandwich(self, file_ids: list[int]) -> Sandwich:
        codes = [self.get_code(file_id=i) for i in file_ids]
        return Sandwich(file_ids=file_ids, paths=[c.path for c in codes], text=sandwich_text(codes))

    @handles(ApplyRequest)
    def apply(self, payload: str, file_id: int | None = None) -> ApplyResult:
        default_path = self._resolve(file_id, None)[1] if file_id is not None else None
        before = self._snapshot()

        @contextmanager
        def record(changes: list[FileChange]) -> Iterator[None]:
            yield
            self.patches.append(before)

        result = apply_payload(self.root, payload, resolve_id=lambda i: next((p for p, n in self.ids.items() if n == i), None),
                               default_path=default_path, record=record)
        self._sync()
        return result

    @handles(CheckCompileRequest)
    def check_compile(self) -> CheckResult:
        return self._check("compile")

    @handles(CheckTestRequest)
    def check_test(self, filter: str | None = None) -> CheckResult:
        return self._check("test", filter)

    @handles(CheckDegradationRequest)
    def check_degradation(self) -> CheckResult:
        return self._check("degradation").model_copy(update={"base_commit": self._head()})

    @handles(PreflightRequest)
    def preflight(self) -> Preflight:
        base = self._check("degradation").model_copy(update={"base_commit": self._head()})
        return Preflight(ok=base.ok, base=base)

    @handles(CommitRequest)
    def commit(self, message: str, author: Identity, chat: ChatLink | None = None) -> CommitResult:
        before = self.commits[-1][1] if self.commits else self.base
        now = self._snapshot()
        files = sorted(p for p in now.keys() | before.keys() if now.get(p) != before.get(p))
        if not files:
            raise NothingToCommit("nothing to commit: the workspace has no pending changes")
        text = commit_message(message, author, chat)
        sha = hashlib.sha1(f"{self._head()}{text}{sorted(now.items())}".encode()).hexdigest()
        result = CommitResult(sha=sha, message=text, author=str(author), files=files)
        self.commits.append((result, now, chat))
        self.patches.clear()
        return result

    @handles(UndoRequest)
    def undo(self) -> UndoResult:
        if self.patches:
            files = self._restore(self.patches.pop())
            return UndoResult(undone="patch", detail=f"dropped the last applied patch ({len(files)} file(s))", files=files)
        if not self.commits:
            raise NothingToUndo("nothing to undo: no applied patch and no MCP commit to revert")
        reverted, _, _ = self.commits.pop()
        files = self._restore(self.commits[-1][1] if self.commits else self.base)
        return UndoResult(undone="commit", detail=f"reverted {reverted.sha[:10]}", files=files, sha=reverted.sha)

    @handles(StatusRequest)
    def status(self) -> WorkspaceStatus:
        committed = self.commits[-1][1] if self.commits else self.base
        now = self._snapshot()
        pending = sorted(p for p in now.keys() | committed.keys() if now.get(p) != committed.get(p))
        return WorkspaceStatus(
            project="fake", workspace=str(self.root), branch="devspace/mcp", head=self._head(), base_commit=self._head(),
            pending=pending, patches=len(self.patches), mcp_commits=len(self.commits),
        )
