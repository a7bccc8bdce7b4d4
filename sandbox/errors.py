"""Every error the sandbox reports, with its wire `code` and HTTP `status`, and the body that carries one.

The convention, the same for every operation and every executor (in-process, HTTP, fake):
a request the sandbox cannot serve raises one of these; work that ran reports its outcome in the
result instead (a patch that cannot be placed is `ApplyResult(ok=False, …)`, a failing build is
`CheckResult(ok=False, …)`). The REST service sends `ErrorBody(code, message)` with `status`; the
HTTP client raises the class of that `code` with the same message, so callers cannot tell the two
executors apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from sandbox.text import clip


class SandboxError(Exception):
    """Base: a request the sandbox refused or could not complete; the message is chat-safe."""

    code: ClassVar[str] = "sandbox_error"
    status: ClassVar[int] = 400


class NotFound(SandboxError):
    """An unknown file_id or path, in every operation that takes one."""

    code = "not_found"
    status = 404


class PathRefused(SandboxError):
    """A path outside the project, into `.git/`, absolute, or through a symlink."""

    code = "path_refused"
    status = 400


class PatchRefused(SandboxError):
    """Raised inside the applier for a payload that cannot be applied exactly (nothing was changed).

    `apply` turns it into `ApplyResult(ok=False, error, hunk, closest)`; it only crosses the wire
    (code and message) when another operation's write is refused.
    """

    code = "patch_refused"
    status = 422

    def __init__(self, message: str, hunk: str | None = None, closest: str | None = None, already_applied: bool = False) -> None:
        super().__init__(message)
        self.hunk = hunk
        self.closest = closest
        self.already_applied = already_applied


class NothingToCommit(SandboxError):
    code = "nothing_to_commit"
    status = 409


class NothingToUndo(SandboxError):
    code = "nothing_to_undo"
    status = 409


class WorkspaceError(SandboxError):
    """The project or its workspace is not usable (not a git repository, corrupt state)."""

    code = "workspace_error"
    status = 409


class Busy(SandboxError):
    """Another operation held the workspace for longer than a call may wait."""

    code = "busy"
    status = 409


class InvalidRequest(SandboxError):
    """Arguments that do not fit the operation's request model (see `invalid`)."""

    code = "validation_error"
    status = 422


class Unauthorized(SandboxError):
    """The bearer token is missing or wrong."""

    code = "unauthorized"
    status = 401


class TooLarge(SandboxError):
    """A request body over the service's limit."""

    code = "too_large"
    status = 413


class ServiceUnavailable(SandboxError):
    """The sandbox service cannot be reached, did not answer in time, or did not answer as the API says (client side)."""

    code = "unavailable"
    status = 503


ERRORS: dict[str, type[SandboxError]] = {
    cls.code: cls
    for cls in (SandboxError, NotFound, PathRefused, PatchRefused, NothingToCommit, NothingToUndo, WorkspaceError, Busy, InvalidRequest)
}
"""What any executor may raise, by code."""

TRANSPORT_ERRORS: dict[str, type[SandboxError]] = {cls.code: cls for cls in (Unauthorized, TooLarge, ServiceUnavailable)}
"""What only the way to a remote executor adds, by code."""


class ErrorBody(BaseModel):
    """Every error response: the error's `code` (an `ERRORS` or `TRANSPORT_ERRORS` key, or `internal_error`,
    `http_error`) and a chat-safe message."""

    code: str
    message: str


def error_of(body: ErrorBody) -> SandboxError:
    """The typed error a body carries (the base class for codes that have none)."""
    cls = ERRORS.get(body.code) or TRANSPORT_ERRORS.get(body.code, SandboxError)
    return cls(body.message)


def describe(error: Any, *, show_input: bool = False, unknown: str = "unknown field", whole: str = "request") -> str:
    """One pydantic error as `dotted.field: message` (`whole` when it is about no one field);
    `(got <value>)` for a plain value when `show_input`."""
    where = ".".join(str(part) for part in error["loc"]) or whole
    if error["type"] == "extra_forbidden":
        return f"{where}: {unknown}"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if show_input and error["type"] != "missing" and isinstance(value, str | int | float | bool):
        message += f" (got {clip(repr(value) if isinstance(value, str) else str(value), 80)})"
    return f"{where}: {message}"


def invalid(errors: ValidationError | Sequence[Any], limit: int = 5) -> InvalidRequest:
    """Validation errors as one InvalidRequest naming each field, never echoing the rejected values."""
    found = errors.errors() if isinstance(errors, ValidationError) else list(errors)
    return InvalidRequest("invalid request: " + "; ".join(describe(e) for e in found[:limit]))
