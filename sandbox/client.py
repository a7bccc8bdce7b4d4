"""The Executor over HTTP: a client of the sandbox service that raises the same typed errors as local."""

from __future__ import annotations

from typing import Any, TypeVar, cast

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from sandbox.errors import PatchRefused, SandboxError
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
from sandbox.redact import redactor
from sandbox.service import (
    WIRE_ERRORS,
    ApplyRequest,
    CheckLogicRequest,
    CommitRequest,
    ErrorBody,
    SandwichRequest,
    Unauthorized,
    validation_message,
)

T = TypeVar("T")
TIMEOUT = 3600.0
"""Seconds to wait for an answer: longer than a queued degradation check takes."""
CONNECT_TIMEOUT = 10.0


class ServiceUnavailable(SandboxError):
    """The sandbox service cannot be reached, did not answer in time, or did not answer as the API says."""

    code = "unavailable"


_adapters: dict[object, TypeAdapter[Any]] = {}


def _parse(tp: type[T], content: bytes) -> T:
    """JSON `content` as a `tp`; each type's validator is built once."""
    adapter = _adapters.get(tp) or _adapters.setdefault(tp, TypeAdapter(tp))
    return cast(T, adapter.validate_json(content))


def _request(model: type[BaseModel], **fields: Any) -> dict[str, Any]:
    """A request body built through its wire model, so a bad argument is refused before it is sent."""
    try:
        return model(**fields).model_dump(mode="json")
    except ValidationError as exc:
        raise SandboxError(validation_message(list(exc.errors()))) from None


class HttpExecutor:
    """Implements the Executor interface by calling the sandbox service (`sandbox.service`)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._has_token = bool(token)
        redactor.register(token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
        )

    def close(self) -> None:
        self._http.close()

    # transport ----------------------------------------------------------------------------------
    def _call(self, tp: type[T], method: str, path: str, *, params: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None) -> T:
        where = f"the sandbox service at {self.base_url}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, params=query, json=body)
        except httpx.TimeoutException as exc:
            raise ServiceUnavailable(f"{where} did not answer {method} {path} in time ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"cannot reach {where}: {str(exc) or type(exc).__name__}") from None
        if response.is_success:
            try:
                return _parse(tp, response.content)
            except ValidationError:
                expected = getattr(tp, "__name__", str(tp))
                raise ServiceUnavailable(f"{where} answered {path} with something that is not a {expected}") from None
        raise self._error(response, where)

    def _error(self, response: httpx.Response, where: str) -> SandboxError:
        """The typed error an error response carries (the same class a LocalExecutor raises)."""
        try:
            body = ErrorBody.model_validate_json(response.content)
        except ValidationError:
            return ServiceUnavailable(f"{where} answered HTTP {response.status_code} without an error body (is the URL right?)")
        if body.code == Unauthorized.code:
            why = "it refused the token" if self._has_token else "no token is configured"
            return Unauthorized(f"{where}: {why} (set DEVSPACE_SANDBOX_TOKEN or sandbox.token_file)")
        cls = WIRE_ERRORS.get(body.code, SandboxError)
        if cls is PatchRefused:
            return PatchRefused(body.message, hunk=body.hunk, closest=body.closest)
        return cls(body.message)

    # the Executor interface ---------------------------------------------------------------------
    def files(self, glob: str | None = None) -> list[FileEntry]:
        return self._call(list[FileEntry], "GET", "/files", params={"glob": glob})

    def get_code(self, file_id: int | None = None, path: str | None = None) -> CodeFile:
        return self._call(CodeFile, "GET", "/get_code", params={"file_id": file_id, "path": path})

    def sandwich(self, file_ids: list[int]) -> Sandwich:
        return self._call(Sandwich, "POST", "/sandwich", body=_request(SandwichRequest, file_ids=file_ids))

    def apply(self, payload: str, file_id: int | None = None) -> ApplyResult:
        return self._call(ApplyResult, "POST", "/apply", body=_request(ApplyRequest, payload=payload, file_id=file_id))

    def check_compile(self) -> CheckResult:
        return self._call(CheckResult, "POST", "/check_compile")

    def check_logic(self, filter: str | None = None) -> CheckResult:
        return self._call(CheckResult, "POST", "/check_logic", body=_request(CheckLogicRequest, filter=filter))

    def check_degradation(self) -> CheckResult:
        return self._call(CheckResult, "POST", "/check_degradation")

    def commit(self, message: str, author: Identity, chat: ChatLink | None = None) -> CommitResult:
        body = _request(CommitRequest, message=message, author=author.model_dump(), chat=chat and chat.model_dump())
        return self._call(CommitResult, "POST", "/commit", body=body)

    def undo(self) -> UndoResult:
        return self._call(UndoResult, "POST", "/undo")

    def status(self) -> WorkspaceStatus:
        return self._call(WorkspaceStatus, "GET", "/status")
