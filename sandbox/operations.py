"""The sandbox's operations, each declared once: its request model, its result, who may run it, whether it mutates.

A declaration is a request model (its fields are the arguments, validated wherever they come
from; its docstring is the help line) decorated with `@operation`. Everything else derives from
the declarations: `Executor.run` dispatches on the request's type, `sandbox.service` makes one REST
route per operation, `sandbox.client` calls it, `sandbox.mcp_server` makes one MCP tool (with the
access rule for the client's role), and the chat side makes the `@agent` verb named by `verb`,
with its help line and default permissions.

A new operation is one declaration here and one handler in `LocalExecutor` (`@handles(Request)`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Generic, Literal, TypeVar, cast

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from sandbox.errors import invalid
from sandbox.models import (
    ApplyResult,
    ChatLink,
    CheckResult,
    CodeFile,
    CommitResult,
    FileEntry,
    Identity,
    Preflight,
    Sandwich,
    UndoResult,
    WorkspaceStatus,
)

Role = Literal["developer", "assistant", "mcp"]
"""The chat's actors: the human, the chat UI's LLM, and this program (the bot, "MCP" in the chat)."""
Access = Literal["all", "developer+assistant", "developer"]
ROLES: dict[Access, tuple[Role, ...]] = {
    "all": ("developer", "assistant", "mcp"),
    "developer+assistant": ("developer", "assistant"),
    "developer": ("developer",),
}

R = TypeVar("R")
Q = TypeVar("Q", bound="Request[Any]")

MAX_PAYLOAD = 8 * 1024 * 1024
"""Characters a patch payload may have (the REST service caps request bodies at the same size in bytes)."""


class Topic:
    """Marks the field that a chat command's first `#word` fills (a glob, a test filter) when no key=value names it."""


@dataclass(frozen=True)
class ChatKey:
    """Marks the name a chat command gives the field in its key=value form, when it is not the field's own."""

    name: str


class Trusted:
    """Marks a field that only a trusted caller fills (the bridge; the MCP server from its configuration), never an MCP client."""


class Request(BaseModel, Generic[R]):
    """The arguments of one operation; the operation's result type is `R`."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _number(value: Any) -> Any:
    """An int, or a string of ASCII digits as its int (chat and query strings); anything else is refused."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a number")
    return value


def _numbers(value: Any) -> Any:
    """A list, or the chat's `1,2,3` as one."""
    if isinstance(value, str):
        parts = value.replace(" ", "").split(",")
        if not all(p.isascii() and p.isdigit() for p in parts):
            raise ValueError("must be numbers like 1,2,3")
        return parts
    return value


FileId = Annotated[int, Field(ge=1, description="a file_id from `files`"), BeforeValidator(_number)]
FileIds = Annotated[list[FileId], Field(min_length=1, max_length=200), BeforeValidator(_numbers)]
Glob = Annotated[str, Field(min_length=1, max_length=500, description="a glob such as '*.rs', or part of a path")]
ProjectPath = Annotated[str, Field(min_length=1, max_length=4096, description="a path relative to the project")]
Payload = Annotated[str, Field(min_length=1, max_length=MAX_PAYLOAD, description="the patch: diff, SEARCH/REPLACE or whole file")]
TEST_FILTER = r"[^-\s][^\x00-\x1f]{0,199}"
"""A libtest name filter cargo may be given: never an option (no leading '-'), one line, at most 200 characters."""


def _test_filter(value: str) -> str:
    if not re.fullmatch(TEST_FILTER, value):
        raise ValueError("must be a test name, with no leading '-' and no control characters")
    return value


TestFilter = Annotated[
    str,
    Field(
        min_length=1, max_length=200, json_schema_extra={"pattern": f"^{TEST_FILTER}$"},
        description="a cargo test name filter: the tests whose path contains it (no leading '-', one line)",
    ),
    AfterValidator(_test_filter),
]
CommitMessage = Annotated[str, Field(min_length=1, max_length=10_000, description="the commit message")]


@dataclass(frozen=True)
class Operation(Generic[R]):
    """One operation's declaration (see the module docstring)."""

    name: str
    request: type[Request[R]]
    result: Any
    access: Access
    mutates: bool
    http: Literal["GET", "POST"]
    verb: str | None = None
    aliases: tuple[str, ...] = ()
    usage: str = ""
    summary: str = ""

    @property
    def roles(self) -> tuple[Role, ...]:
        return ROLES[self.access]

    @cached_property
    def adapter(self) -> TypeAdapter[R]:
        """Validates a result (e.g. JSON from the wire) as this operation's result type."""
        return TypeAdapter(self.result)

    def trusted(self) -> set[str]:
        """The request fields only a trusted caller may fill."""
        return {name for name, info in self.request.model_fields.items() if Trusted in info.metadata}


OPERATIONS: dict[str, Operation[Any]] = {}
"""Every operation by name (snake_case: the Executor's dispatch key, the REST path, the MCP tool)."""
_BY_REQUEST: dict[type[Request[Any]], Operation[Any]] = {}


def operation(
    name: str,
    *,
    result: Any,
    access: Access,
    mutates: bool = False,
    http: Literal["GET", "POST"] = "POST",
    verb: str | None = None,
    aliases: tuple[str, ...] = (),
    usage: str = "",
) -> Callable[[type[Q]], type[Q]]:
    """Declare the decorated request model as the operation `name` (see the module docstring).

    `http="GET"` for a read that changes nothing (its arguments travel as query parameters); `verb`
    names the `@agent` verb that runs it as it is, if any, written also as any of `aliases`.
    """

    def register(request: type[Q]) -> type[Q]:
        summary = " ".join((request.__doc__ or "").split("\n\n", 1)[0].split())
        op = Operation(
            name=name, request=request, result=result, access=access, mutates=mutates, http=http,
            verb=verb, aliases=aliases, usage=usage or (verb or name), summary=summary,
        )
        if name in OPERATIONS:
            raise ValueError(f"operation {name!r} is declared twice")
        OPERATIONS[name] = op
        _BY_REQUEST[request] = op
        return request

    return register


def operation_of(request: Request[R]) -> Operation[R]:
    """The declaration a request belongs to."""
    return cast(Operation[R], _BY_REQUEST[type(request)])


def build(request: type[Q], **fields: Any) -> Q:
    """A request from untrusted values (chat text, a URL, a message id); `InvalidRequest` names each bad field."""
    try:
        return request.model_validate(fields)
    except ValidationError as exc:
        raise invalid(exc) from None


# the operations ------------------------------------------------------------------------------
@operation("files", result=list[FileEntry], access="all", http="GET", verb="code files", usage="code files [#glob]")
class FilesRequest(Request[list[FileEntry]]):
    """list the project's files with their stable file_id (only those matching a glob, if one is given)"""

    glob: Annotated[Glob | None, Topic] = None


@operation("get_code", result=CodeFile, access="all", http="GET", verb="code get", usage="code get file_id=N | path=P")
class GetCodeRequest(Request[CodeFile]):
    """one file's text, by file_id or by path"""

    file_id: FileId | None = None
    path: ProjectPath | None = None

    @model_validator(mode="after")
    def _one_of(self) -> GetCodeRequest:
        if (self.file_id is None) == (self.path is None):
            raise ValueError("needs exactly one of file_id and path")
        return self


@operation("sandwich", result=Sandwich, access="all", verb="code sandwich", usage="code sandwich file_id=1,2,…")
class SandwichRequest(Request[Sandwich]):
    """several files bundled with headers as context for the assistant (also saved in the sandwiches folder)"""

    file_ids: Annotated[FileIds, ChatKey("file_id")]


@operation("apply", result=ApplyResult, access="developer+assistant", mutates=True)
class ApplyRequest(Request[ApplyResult]):
    """apply a patch to the workspace: every file or none; a patch that cannot be placed exactly is refused"""

    payload: Payload
    file_id: Annotated[FileId | None, Field(description="the file a bare diff or whole-file block is for")] = None


@operation("check_compile", result=CheckResult, access="all", verb="check compile")
class CheckCompileRequest(Request[CheckResult]):
    """`cargo build --all-targets`: errors and warnings by code and location, no fixes"""


@operation(
    "check_test", result=CheckResult, access="all", verb="check test", aliases=("check logic",), usage="check test [#filter]"
)
class CheckTestRequest(Request[CheckResult]):
    """`cargo test [filter]`: passed, failed and ignored tests with the failures' messages, no fixes"""

    filter: Annotated[TestFilter | None, Topic] = None


@operation("check_degradation", result=CheckResult, access="all", verb="check degradation")
class CheckDegradationRequest(Request[CheckResult]):
    """build and test against the workspace's base commit: regressions and new warnings"""


@operation("preflight", result=Preflight, access="all", verb="check environment")
class PreflightRequest(Request[Preflight]):
    """before any patch: does the base build and pass its tests, is every dependency available offline, is the
    project's toolchain there, is there disk (the base's results are kept for the first degradation check)"""


@operation("commit", result=CommitResult, access="developer", mutates=True)
class CommitRequest(Request[CommitResult]):
    """commit every pending change on the workspace branch"""

    message: CommitMessage
    author: Annotated[Identity, Trusted]
    chat: Annotated[ChatLink | None, Trusted] = None


@operation("undo", result=UndoResult, access="developer", mutates=True, verb="undo")
class UndoRequest(Request[UndoResult]):
    """drop the last applied, uncommitted patch, or else revert the last commit made through DevSpace"""


@operation("status", result=WorkspaceStatus, access="all", http="GET", verb="status")
class StatusRequest(Request[WorkspaceStatus]):
    """the workspace: branch, head, pending changes, applied patches, commits made"""
