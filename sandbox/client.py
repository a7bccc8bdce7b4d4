"""The Executor over HTTP: a client of the sandbox service that raises the same typed errors as local."""

from __future__ import annotations

from typing import TypeVar

import httpx
from pydantic import ValidationError

from sandbox.errors import ErrorBody, SandboxError, ServiceUnavailable, Unauthorized, error_of
from sandbox.operations import Request, operation_of
from sandbox.redact import redactor

R = TypeVar("R")
TIMEOUT = 3600.0
"""Seconds to wait for an answer: longer than a queued degradation check takes."""
CONNECT_TIMEOUT = 10.0


class HttpExecutor:
    """Implements the Executor contract (`sandbox.executor`) by calling the sandbox service (`sandbox.service`)."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = TIMEOUT) -> None:
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

    def run(self, request: Request[R]) -> R:
        op = operation_of(request)
        path = f"/{op.name}"
        where = f"the sandbox service at {self.base_url}"
        fields = request.model_dump(mode="json", exclude_none=True)
        try:
            if op.http == "GET":
                response = self._http.get(path, params=fields)
            else:
                response = self._http.post(path, json=fields if type(request).model_fields else None)
        except httpx.TimeoutException as exc:
            raise ServiceUnavailable(f"{where} did not answer {op.http} {path} in time ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"cannot reach {where}: {str(exc) or type(exc).__name__}") from None
        if response.is_success:
            try:
                return op.adapter.validate_json(response.content)
            except ValidationError:
                raise ServiceUnavailable(f"{where} answered {path} with something that is not its {op.name} result") from None
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
        return error_of(body)
