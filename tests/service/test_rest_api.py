"""The REST service driven by the HTTP client on a real uvicorn server: same answers and same errors as in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import git
import httpx
import pytest

from sandbox.client import HttpExecutor
from sandbox.errors import ERRORS, NotFound, NothingToCommit, NothingToUndo, PatchRefused, PathRefused, SandboxError
from sandbox.executor import Executor
from sandbox.local import LocalExecutor
from sandbox.models import ChatLink, Identity
from sandbox.service import STATUS
from sandbox.serving import BackgroundServer
from tests.support import patches

pytestmark = pytest.mark.cargo
GROK = Identity(name="Grok", email="grok@x.ai")


def test_client_implements_the_executor_interface(remote: HttpExecutor) -> None:
    assert isinstance(remote, Executor)


def test_reads_match_local(remote: HttpExecutor, local: LocalExecutor) -> None:
    assert remote.files() == local.files()
    rust = remote.files("*.rs")
    assert rust == local.files("*.rs") and {e.path for e in rust} >= {"src/date.rs", "src/lib.rs"}
    assert remote.files("date") == local.files("date")
    date = next(e for e in rust if e.path == "src/date.rs")
    by_id = remote.get_code(file_id=date.file_id)
    assert by_id == local.get_code(file_id=date.file_id) == remote.get_code(path="src/date.rs")
    assert "pub fn adjust_to_monday" in by_id.text
    bundle = remote.sandwich([date.file_id, rust[0].file_id])
    assert bundle.paths == ["src/date.rs", rust[0].path]
    assert bundle.saved_to is not None and Path(bundle.saved_to).read_text(encoding="utf-8") == bundle.text
    assert bundle.text == local.sandwich([date.file_id, rust[0].file_id]).text


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda ex: ex.get_code(file_id=99_999), NotFound),
        (lambda ex: ex.get_code(path="src/missing.rs"), NotFound),
        (lambda ex: ex.get_code(), NotFound),
        (lambda ex: ex.get_code(path="../outside.rs"), PathRefused),
        (lambda ex: ex.get_code(path=".git/config"), PathRefused),
        (lambda ex: ex.sandwich([]), NotFound),
        (lambda ex: ex.commit("nothing changed", GROK), NothingToCommit),
        (lambda ex: ex.undo(), NothingToUndo),
    ],
    ids=["file_id", "path", "neither", "dotdot", "git", "empty-sandwich", "commit", "undo"],
)
def test_typed_errors_cross_the_wire(
    remote: HttpExecutor, local: LocalExecutor, call: Callable[[Executor], Any], error: type[SandboxError]
) -> None:
    with pytest.raises(error) as here:
        call(local)
    with pytest.raises(error) as there:
        call(remote)
    assert type(there.value) is type(here.value)
    assert str(there.value) == str(here.value)


def test_patch_build_undo_commit_cycle(remote: HttpExecutor, local: LocalExecutor) -> None:
    broken = remote.apply(patches.BROKEN)
    assert broken.ok and broken.changed == ["src/date.rs"]
    failed = remote.check_compile()
    assert not failed.ok and [d.code for d in failed.errors] == ["E0308"]
    assert failed.errors[0].file == "src/date.rs" and failed.log_path and Path(failed.log_path).is_file()
    status = remote.status()
    assert status.pending == ["src/date.rs"] and status.patches == 1
    assert remote.undo().undone == "patch"
    assert remote.status().pending == []

    refused = remote.apply(patches.MISPLACED)
    assert not refused.ok and refused.hunk and "adjust_to_sunday" in refused.hunk
    assert refused.closest and "adjust_to_monday" in refused.closest

    assert remote.apply(patches.GOOD).ok
    assert remote.check_compile().ok
    tests = remote.check_logic("adjust_to_monday")
    assert tests.ok and tests.filter == "adjust_to_monday"
    assert sorted(t.name.rsplit("::", 1)[-1] for t in tests.tests) == [
        "adjust_to_monday_crosses_month_and_year_boundaries",
        "adjust_to_monday_maps_every_day_of_a_week",
    ]
    degradation = remote.check_degradation()
    assert degradation.ok and degradation.regressions == [] and degradation.base_commit == local.status().head

    done = remote.commit("Оптимизирована функция", GROK, ChatLink(chat_id="123", message_id="m-7"))
    assert done.files == ["src/date.rs"]
    head = git.Repo(local.ws.tree).head.commit
    assert head.hexsha == done.sha == remote.status().head
    assert (head.author.name, head.author.email) == ("Grok", "grok@x.ai")
    assert head.message.startswith("From Grok: Оптимизирована функция (chat_id=123)")
    assert "Chat-Message-Id: m-7" in head.message
    reverted = remote.undo()
    assert reverted.undone == "commit" and reverted.files == ["src/date.rs"]
    assert "let mut day = date;" in remote.get_code(path="src/date.rs").text


def test_commit_identity_is_validated(remote: HttpExecutor, service: BackgroundServer, token: str) -> None:
    remote.apply(patches.GOOD)
    with pytest.raises(SandboxError, match=r"author\.name"):
        remote.commit("msg", Identity(name="Eve <eve@evil>\nCommitter: x", email="e@x"))
    body = {"message": "m", "author": {"name": "Grok", "email": "grok@x.ai"}, "chat": {"chat_id": "1\nForged: yes"}}
    answer = httpx.post(f"{service.url}/commit", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error"
    assert remote.status().pending == ["src/date.rs"]  # nothing was committed


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
    if cls is PatchRefused:
        exc: SandboxError = PatchRefused("hunk 2 does not match", hunk="@@ -1 +1 @@\n-a\n+b", closest="line 7: a")
    else:
        exc = cls(f"the {code} case")
    server = serve(Raising(exc))
    client = HttpExecutor(server.url, token)
    with pytest.raises(SandboxError) as caught:
        client.check_compile()
    assert type(caught.value) is cls and str(caught.value) == str(exc)
    if isinstance(exc, PatchRefused):
        assert isinstance(caught.value, PatchRefused)
        assert (caught.value.hunk, caught.value.closest) == (exc.hunk, exc.closest)
    answer = httpx.post(f"{server.url}/check_compile", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == STATUS[code]
    assert answer.json()["code"] == code


def test_status_codes_follow_the_issue() -> None:
    assert (STATUS["not_found"], STATUS["path_refused"], STATUS["nothing_to_commit"], STATUS["busy"]) == (404, 400, 409, 409)


def test_a_crash_is_a_500_with_a_typed_body_and_no_details(serve: Callable[..., BackgroundServer], token: str) -> None:
    server = serve(Raising(RuntimeError("secret internals /etc/shadow")))
    answer = httpx.get(f"{server.url}/status", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 500
    assert answer.json() == {"code": "internal_error", "message": "internal error (RuntimeError); see the sandbox log"}
    with pytest.raises(SandboxError, match=r"internal error \(RuntimeError\)") as caught:
        HttpExecutor(server.url, token).status()
    assert type(caught.value) is SandboxError


def test_openapi_schema_is_served_behind_the_token(service: BackgroundServer, token: str) -> None:
    assert httpx.get(f"{service.url}/openapi.json").status_code == 401
    schema = httpx.get(f"{service.url}/openapi.json", headers={"Authorization": f"Bearer {token}"}).json()
    seed = {"/get_code", "/check_degradation", "/check_compile", "/check_logic", "/commit"}
    assert seed | {"/files", "/apply", "/undo", "/status", "/healthz", "/sandwich"} == set(schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" not in schema["paths"]["/healthz"]["get"]
    commit = schema["paths"]["/commit"]["post"]
    assert commit["security"] == [{"HTTPBearer": []}]
    assert commit["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert commit["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/CommitResult")
