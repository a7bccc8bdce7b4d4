"""The Executor interface: everything the chat side may ask of the project."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sandbox.models import (
    ApplyResult,
    ChatLink,
    CheckResult,
    CodeFile,
    CommitResult,
    FileEntry,
    Identity,
    Sandwich,
    UndoResult,
    WorkspaceStatus,
)


@runtime_checkable
class Executor(Protocol):
    """Implemented in-process (`LocalExecutor`) and over HTTP (`sandbox.client`)."""

    def files(self, glob: str | None = None) -> list[FileEntry]: ...

    def get_code(self, file_id: int | None = None, path: str | None = None) -> CodeFile: ...

    def sandwich(self, file_ids: list[int]) -> Sandwich: ...

    def apply(self, payload: str, file_id: int | None = None) -> ApplyResult: ...

    def check_compile(self) -> CheckResult: ...

    def check_logic(self, filter: str | None = None) -> CheckResult: ...

    def check_degradation(self) -> CheckResult: ...

    def commit(self, message: str, author: Identity, chat: ChatLink | None = None) -> CommitResult: ...

    def undo(self) -> UndoResult: ...

    def status(self) -> WorkspaceStatus: ...
