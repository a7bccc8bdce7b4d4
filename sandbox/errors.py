"""Typed errors every Executor raises, local or remote."""

from __future__ import annotations


class SandboxError(Exception):
    """Base: a request the sandbox refused or could not complete; the message is chat-safe."""

    code = "sandbox_error"


class NotFound(SandboxError):
    """An unknown file_id or path."""

    code = "not_found"


class PathRefused(SandboxError):
    """A path outside the project, into `.git/`, absolute, or through a symlink."""

    code = "path_refused"


class PatchRefused(SandboxError):
    """A payload that cannot be applied exactly; nothing was changed."""

    code = "patch_refused"

    def __init__(self, message: str, hunk: str | None = None, closest: str | None = None, already_applied: bool = False) -> None:
        super().__init__(message)
        self.hunk = hunk
        self.closest = closest
        self.already_applied = already_applied


class NothingToCommit(SandboxError):
    code = "nothing_to_commit"


class NothingToUndo(SandboxError):
    code = "nothing_to_undo"


class WorkspaceError(SandboxError):
    """The project or its workspace is not usable (not a git repository, corrupt state)."""

    code = "workspace_error"


class Busy(SandboxError):
    """Another operation holds the workspace."""

    code = "busy"


ERRORS: dict[str, type[SandboxError]] = {
    cls.code: cls
    for cls in (SandboxError, NotFound, PathRefused, PatchRefused, NothingToCommit, NothingToUndo, WorkspaceError, Busy)
}
