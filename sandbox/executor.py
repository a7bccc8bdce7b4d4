"""The Executor: everything the chat side may ask of the project, one operation per call.

The contract, for every implementation (`LocalExecutor` in-process, `HttpExecutor` over the REST
service, `FakeExecutor` in memory for tests):

- `run(request)` runs the operation the request belongs to (`sandbox.operations`) and returns that
  operation's result model. Requests are pydantic models, so their arguments were validated when
  the request was built; a request built from untrusted text raises `InvalidRequest` there.
- A request the sandbox cannot serve raises a `sandbox.errors.SandboxError` subclass, the same one
  whichever executor runs it: `NotFound` for a file_id or path argument that names no file, in
  every operation that takes one; `PathRefused`, `NothingToCommit`, `NothingToUndo`,
  `WorkspaceError`, `Busy`; `HttpExecutor` adds `Unauthorized` and `ServiceUnavailable`. Work that
  ran reports its outcome in the result: a patch that cannot be placed (a file its text names
  included) is `ApplyResult(ok=False, error, hunk, closest)` with nothing changed, a failing build
  or test is `CheckResult(ok=False, …)`.
- `LocalExecutor` and the REST service run the calls on one workspace one at a time (a file lock,
  a queue), so they may be shared between threads and processes; `FakeExecutor` is for one thread.
- `close()` releases what the executor holds (database handles, HTTP connections); it is safe to
  call twice, and the executor is not used afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from sandbox.errors import SandboxError
from sandbox.operations import Request, operation_of

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


@runtime_checkable
class Executor(Protocol):
    """Runs the sandbox's operations on one project (see the module docstring for the contract)."""

    def run(self, request: Request[R]) -> R:
        """The operation's result; raises a SandboxError subclass for a request it cannot serve."""
        ...

    def close(self) -> None:
        """Release connections and handles; idempotent."""
        ...


def handles(request: type[Request[Any]]) -> Callable[[F], F]:
    """Mark a method as the handler of `request`'s operation; its keyword parameters are the request's fields."""

    def mark(method: F) -> F:
        method.__handles__ = request  # type: ignore[attr-defined]
        return method

    return mark


class Handlers:
    """Base of the executors that run each operation with a method marked `@handles(Request)`."""

    _handlers: ClassVar[dict[type[Request[Any]], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = dict(cls._handlers)
        for name, member in vars(cls).items():
            request = getattr(member, "__handles__", None)
            if request is not None:
                cls._handlers[request] = name

    def run(self, request: Request[R]) -> R:
        name = self._handlers.get(type(request))
        if name is None:
            raise SandboxError(f"{type(self).__name__} does not run `{operation_of(request).name}`")
        fields = {key: getattr(request, key) for key in type(request).model_fields}
        result: R = getattr(self, name)(**fields)
        return result
