"""The REST service driven by the HTTP client on a real uvicorn server: same answers and same errors as in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import git
import httpx
import pytest
from pydantic import ValidationError

from sandbox.client import HttpExecutor
from sandbox.errors import ERRORS, Busy, NotFound, NothingToCommit, NothingToUndo, PathRefused, SandboxError
from sandbox.executor import Executor
from sandbox.local import LocalExecutor
from sandbox.models import ChatLink, Identity
from sandbox.operations import (
    ApplyRequest,
    CheckCompileRequest,
    CheckDegradationRequest,
    CheckTestRequest,
    CommitRequest,
    FilesRequest,
    GetCodeRequest,
    SandwichRequest,
    StatusRequest,
    UndoRequest,
)
from sandbox.serving import BackgroundServer
from tests.support import patches

pytestmark = pytest.mark.cargo
GROK = Identity(name="Grok", email="grok@x.ai")


def test_client_implements_the_executor_interface(remote: HttpExecutor) -> None:
    assert isinstance(remote, Executor)


def test_reads_match_local(remote: HttpExecutor, local: LocalExecutor) -> None:
    assert remote.run(FilesRequest()) == local.run(FilesRequest())
    rust = remote.run(FilesRequest(glob="*.rs"))
    assert rust == local.run(FilesRequest(glob="*.rs")) and {e.path for e in rust} >= {"src/date.rs", "src/lib.rs"}
    assert remote.run(FilesRequest(glob="date")) == local.run(FilesRequest(glob="date"))
    date = next(e for e in rust if e.path == "src/date.rs")
    by_id = remote.run(GetCodeRequest(file_id=date.file_id))
    assert by_id == local.run(GetCodeRequest(file_id=date.file_id)) == remote.run(GetCodeRequest(path="src/date.rs"))
    assert "pub fn adjust_to_monday" in by_id.text
    bundle = remote.run(SandwichRequest(file_ids=[date.file_id, rust[0].file_id]))
    assert bundle.paths == ["src/date.rs", rust[0].path]
    assert bundle.saved_to is not None and Path(bundle.saved_to).read_text(encoding="utf-8") == bundle.text
    assert bundle.text == local.run(SandwichRequest(file_ids=[date.file_id, rust[0].file_id])).text


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (GetCodeRequest(file_id=99_999), NotFound),
        (GetCodeRequest(path="src/missing.rs"), NotFound),
        (GetCodeRequest(path="../outside.rs"), PathRefused),
        (GetCodeRequest(path=".git/config"), PathRefused),
        (SandwichRequest(file_ids=[1, 99_999]), NotFound),
        (ApplyRequest(payload=patches.GOOD, file_id=99_999), NotFound),
        (CommitRequest(message="nothing changed", author=GROK), NothingToCommit),
        (UndoRequest(), NothingToUndo),
    ],
    ids=["file_id", "path", "dotdot", "git", "sandwich", "apply", "commit", "undo"],
)
def test_typed_errors_cross_the_wire(
    remote: HttpExecutor, local: LocalExecutor, request_: Any, error: type[SandboxError]
) -> None:
    with pytest.raises(error) as here:
        local.run(request_)
    with pytest.raises(error) as there:
        remote.run(request_)
    assert type(there.value) is type(here.value)
    assert str(there.value) == str(here.value)


@pytest.mark.parametrize(
    ("method", "path", "arguments", "message"),
    [
        ("GET", "/get_code", {}, "needs exactly one of file_id and path"),
        ("GET", "/get_code", {"file_id": "3", "path": "src/lib.rs"}, "needs exactly one of file_id and path"),
        ("GET", "/get_code", {"file_id": "0"}, "file_id: Input should be greater than or equal to 1"),
        ("POST", "/sandwich", {"file_ids": []}, "file_ids: List should have at least 1 item"),
        ("POST", "/check_test", {"filter": "--list"}, "filter: must be a test name, with no leading '-' and no control characters"),
    ],
    ids=["neither", "both", "zero", "empty-sandwich", "option-filter"],
)
def test_the_request_models_validate_every_route(
    service: BackgroundServer, token: str, method: str, path: str, arguments: dict[str, Any], message: str
) -> None:
    """The models that refuse a bad request in the caller's process refuse it at the route too."""
    auth = {"Authorization": f"Bearer {token}"}
    if method == "GET":
        answer = httpx.get(service.url + path, params=arguments, headers=auth)
    else:
        answer = httpx.post(service.url + path, json=arguments, headers=auth)
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error"
    assert message in answer.json()["message"]


def test_patch_build_undo_commit_cycle(remote: HttpExecutor, local: LocalExecutor) -> None:
    broken = remote.run(ApplyRequest(payload=patches.BROKEN))
    assert broken.ok and broken.changed == ["src/date.rs"]
    failed = remote.run(CheckCompileRequest())
    assert not failed.ok and [d.code for d in failed.errors] == ["E0308"]
    assert failed.errors[0].file == "src/date.rs" and failed.log_path and Path(failed.log_path).is_file()
    status = remote.run(StatusRequest())
    assert status.pending == ["src/date.rs"] and status.patches == 1
    assert remote.run(UndoRequest()).undone == "patch"
    assert remote.run(StatusRequest()).pending == []

    refused = remote.run(ApplyRequest(payload=patches.MISPLACED))
    assert not refused.ok and refused.hunk and "adjust_to_sunday" in refused.hunk
    assert refused.closest and "adjust_to_monday" in refused.closest

    assert remote.run(ApplyRequest(payload=patches.GOOD)).ok
    assert remote.run(CheckCompileRequest()).ok
    tests = remote.run(CheckTestRequest(filter="adjust_to_monday"))
    assert tests.ok and tests.filter == "adjust_to_monday"
    assert sorted(t.name.rsplit("::", 1)[-1] for t in tests.tests) == [
        "adjust_to_monday_crosses_month_and_year_boundaries",
        "adjust_to_monday_maps_every_day_of_a_week",
    ]
    degradation = remote.run(CheckDegradationRequest())
    assert degradation.ok and degradation.regressions == [] and degradation.base_commit == local.run(StatusRequest()).head

    done = remote.run(CommitRequest(message="Оптимизирована функция", author=GROK, chat=ChatLink(chat_id="123", message_id="m-7")))
    assert done.files == ["src/date.rs"]
    head = git.Repo(local.ws.tree).head.commit
    assert head.hexsha == done.sha == remote.run(StatusRequest()).head
    assert (head.author.name, head.author.email) == ("Grok", "grok@x.ai")
    assert head.message.startswith("From Grok: Оптимизирована функция (chat_id=123)")
    assert "Chat-Message-Id: m-7" in head.message
    reverted = remote.run(UndoRequest())
    assert reverted.undone == "commit" and reverted.files == ["src/date.rs"]
    assert "let mut day = date;" in remote.run(GetCodeRequest(path="src/date.rs")).text


def test_commit_identity_is_validated(remote: HttpExecutor, service: BackgroundServer, token: str) -> None:
    remote.run(ApplyRequest(payload=patches.GOOD))
    with pytest.raises(ValidationError, match=r"name\n  Value error, must not hold control characters"):
        Identity(name="Eve <eve@evil>\nCommitter: x", email="e@x")
    for bad in ({"author": {"name": "Eve <eve@evil>\nCommitter: x", "email": "e@x"}}, {"chat": {"chat_id": "1\nForged: yes"}}):
        body = {"message": "m", "author": {"name": "Grok", "email": "grok@x.ai"}, **bad}
        answer = httpx.post(f"{service.url}/commit", json=body, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 422 and answer.json()["code"] == "validation_error"
        assert "must not hold control characters" in answer.json()["message"]
    assert remote.run(StatusRequest()).pending == ["src/date.rs"]  # nothing was committed


class Raising:
    """An executor whose every call raises the given exception."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise self.exc

        return call


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_error_class_keeps_its_class_message_and_status(
    code: str, serve: Callable[..., BackgroundServer], token: str
) -> None:
    cls = ERRORS[code]
    exc = cls(f"the {code} case")
    server = serve(Raising(exc))
    client = HttpExecutor(server.url, token)
    with pytest.raises(SandboxError) as caught:
        client.run(CheckCompileRequest())
    assert type(caught.value) is cls and str(caught.value) == str(exc)
    answer = httpx.post(f"{server.url}/check_compile", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == cls.status
    assert answer.json() == {"code": code, "message": str(exc)}


def test_status_codes_follow_the_issue() -> None:
    assert (NotFound.status, PathRefused.status, NothingToCommit.status, Busy.status) == (404, 400, 409, 409)


def test_a_crash_is_a_500_with_a_typed_body_and_no_details(serve: Callable[..., BackgroundServer], token: str) -> None:
    server = serve(Raising(RuntimeError("secret internals /etc/shadow")))
    answer = httpx.get(f"{server.url}/status", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 500
    assert answer.json() == {"code": "internal_error", "message": "internal error (RuntimeError); see the sandbox log"}
    with pytest.raises(SandboxError, match=r"internal error \(RuntimeError\)") as caught:
        HttpExecutor(server.url, token).run(StatusRequest())
    assert type(caught.value) is SandboxError


def test_openapi_schema_is_served_behind_the_token(service: BackgroundServer, token: str) -> None:
    assert httpx.get(f"{service.url}/openapi.json").status_code == 401
    schema = httpx.get(f"{service.url}/openapi.json", headers={"Authorization": f"Bearer {token}"}).json()
    seed = {"/get_code", "/check_degradation", "/check_compile", "/check_test", "/commit"}
    assert seed | {"/files", "/apply", "/undo", "/status", "/healthz", "/sandwich", "/preflight"} == set(schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" not in schema["paths"]["/healthz"]["get"]
    commit = schema["paths"]["/commit"]["post"]
    assert commit["security"] == [{"HTTPBearer": []}]
    assert commit["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert commit["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/CommitResult")
