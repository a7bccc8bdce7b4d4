"""Pydantic models at the executor boundary: what the sandbox returns to the chat side."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

CheckKind = Literal["compile", "test", "degradation"]
Outcome = Literal["passed", "failed", "ignored"]


class FileEntry(BaseModel):
    """A tracked project file and its stable numeric id."""

    file_id: int
    path: str
    size: int = 0


class CodeFile(BaseModel):
    """One file's text as read from the workspace."""

    file_id: int
    path: str
    text: str


class Sandwich(BaseModel):
    """Several files bundled with headers for an assistant's context."""

    file_ids: list[int]
    paths: list[str]
    text: str
    saved_to: str | None = None


def sandwich_text(files: list[CodeFile]) -> str:
    """Files bundled for a model's context, each under a header `=== file_id=N path=P lines=L ===`."""
    return "\n".join(f"=== file_id={f.file_id} path={f.path} lines={f.text.count(chr(10)) + 1} ===\n{f.text.rstrip()}\n" for f in files)


class FileChange(BaseModel):
    """One file's content before and after an edit; None means absent."""

    path: str
    before: str | None = None
    after: str | None = None
    build_output: bool = Field(
        default=False, description="a file cargo may rewrite (Cargo.lock), recorded so rollback and undo restore it; `after` is unknown"
    )

    @property
    def action(self) -> Literal["create", "modify", "delete"]:
        if self.before is None:
            return "create"
        if self.after is None:
            return "delete"
        return "modify"


class ApplyResult(BaseModel):
    """The outcome of applying a chat payload: all files changed, or none."""

    ok: bool
    changed: list[str] = Field(default_factory=list)
    created: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    build_sensitive: list[str] = Field(default_factory=list, description="edited files that run code at build time")
    undeclared: list[str] = Field(
        default_factory=list, description="created .rs files no target root or module declaration names: cargo never compiles them"
    )
    error: str | None = None
    hunk: str | None = Field(default=None, description="the hunk that could not be placed")
    closest: str | None = Field(default=None, description="the closest place found for it, with line numbers")
    formats: list[str] = Field(default_factory=list, description="payload carriers recognised")
    already_applied: bool = Field(default=False, description="refused because the workspace already has this change")
    regions: dict[str, tuple[int, int]] = Field(
        default_factory=dict, description="per changed file, the first and last changed line of the new text (1-based)"
    )
    diff: str = Field(default="", description="the change as a unified diff (2 lines of context), at most DIFF_CAP characters")
    stat: dict[str, tuple[int, int]] = Field(default_factory=dict, description="per file, lines added and removed")


class Diagnostic(BaseModel):
    """One compiler message with its primary location."""

    level: str
    code: str | None = None
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    rendered: str | None = None

    @property
    def location(self) -> str:
        if self.file is None:
            return "?"
        return f"{self.file}:{self.line}:{self.column}"


class TestCase(BaseModel):
    """One libtest test and how it ended."""

    __test__ = False
    name: str
    binary: str = ""
    outcome: Outcome
    message: str | None = None
    location: str | None = Field(default=None, description="where it panicked: file:line:column")

    @property
    def file(self) -> str | None:
        """The file of `location`."""
        return self.location.rsplit(":", 2)[0] if self.location and self.location.count(":") >= 2 else None


class TestBinary(BaseModel):
    """One test executable (unit tests, an integration test file, doc-tests)."""

    __test__ = False
    name: str
    passed: int = 0
    failed: int = 0
    ignored: int = 0
    ok: bool = True
    crashed: bool = False


EnvironmentKind = Literal["dependency-unavailable", "registry-unreachable", "toolchain-missing", "disk-full", "timeout", "sandbox"]


class EnvironmentIssue(BaseModel):
    """Why a check failed through no fault of the code: what is missing, where cargo looked, what to do."""

    kind: EnvironmentKind
    missing: list[str] = Field(default_factory=list, description="crates (`name` or `name requirement`), a toolchain, disk space")
    looked_in: str | None = Field(default=None, description="where cargo looked, host paths")
    detail: str = ""
    advice: str = ""
    at_base: bool = Field(default=False, description="the base commit fails the same way")


class CheckResult(BaseModel):
    """A cargo check's structured result; the full log lives in `log_path`."""

    kind: CheckKind
    ok: bool
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    tests: list[TestCase] = Field(default_factory=list)
    binaries: list[TestBinary] = Field(default_factory=list)
    duration: float = 0.0
    log_path: str | None = None
    timed_out: bool = False
    output_truncated: bool = False
    error: str | None = Field(default=None, description="why the check could not run or complete")
    filter: str | None = None
    regressions: list[str] = Field(default_factory=list, description="tests that passed at the base and now fail or are missing")
    new_warnings: list[Diagnostic] = Field(default_factory=list)
    base_commit: str | None = None
    environment: EnvironmentIssue | None = Field(default=None, description="set when the failure is the environment's, not the code's")
    tests_run: bool = Field(default=True, description="False when the build failed and no test ran")
    base_duration: float | None = Field(default=None, description="seconds the base's own build and tests took, when measured in this check")

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level in ("error", "error: internal compiler error")]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "warning"]

    @property
    def failed_tests(self) -> list[TestCase]:
        return [t for t in self.tests if t.outcome == "failed"]


_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>]")


def _plain(value: str) -> str:
    if _UNSAFE.search(value):
        raise ValueError("must not hold control characters or '<', '>'")
    return value


Plain = Annotated[str, AfterValidator(_plain)]
"""One line without '<' or '>': safe in a commit header or trailer, whoever built the model."""



FetchPolicy = Literal["ask", "allow", "deny"]
"""What a patch blocked by a dependency not available offline leads to (`sandbox.fetch`): ask the developer in the chat
(who answers `@agent fetch`), fetch and check again at once, or escalate as any environment failure."""


class FetchResult(BaseModel):
    """The dependency fetch stage (`cargo fetch`, the only networked run): what it refused, downloaded, and the
    degradation check run again after it."""

    ok: bool
    refused: list[str] = Field(default_factory=list, description="sources refused before any network use")
    locked: bool = Field(default=False, description="run with --locked (Cargo.lock already named every dependency)")
    downloaded: list[str] = Field(default_factory=list, description="`name version` of each crate downloaded")
    detail: str = Field(default="", description="cargo's error lines when the fetch failed")
    environment: EnvironmentIssue | None = None
    duration: float = 0.0
    check: CheckResult | None = Field(default=None, description="the degradation check run again after a fetch")

class Identity(BaseModel):
    """A git identity; `name` also labels commit messages ("From Grok: …")."""

    name: Annotated[Plain, Field(min_length=1, max_length=200)]
    email: Annotated[Plain, Field(min_length=1, max_length=254)]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class ChatLink(BaseModel):
    """Where in the chat a commit was asked for; written into the commit's trailers."""

    chat_id: Annotated[Plain, Field(min_length=1, max_length=500)]
    message_id: Annotated[Plain, Field(max_length=500)] | None = None
    url: Annotated[Plain, Field(max_length=2000)] | None = None


class CommitResult(BaseModel):
    sha: str
    message: str
    author: str
    files: list[str] = Field(default_factory=list)


class UndoResult(BaseModel):
    undone: Literal["patch", "commit"]
    detail: str
    files: list[str] = Field(default_factory=list)
    sha: str | None = None


class WorkspaceStatus(BaseModel):
    project: str
    workspace: str
    branch: str
    head: str
    base_commit: str
    pending: list[str] = Field(default_factory=list, description="files changed and not committed")
    patches: int = Field(default=0, description="applied, uncommitted patches that undo can drop")
    mcp_commits: int = Field(default=0, description="commits the bot (MCP in the chat) made here, which undo may revert")
    isolation: str = "none"


class Preflight(BaseModel):
    """What a project's environment lacks before any patch is judged: the base commit's build and tests (kept for the
    first degradation check) and the setup problems found without building."""

    ok: bool
    base: CheckResult
    warnings: list[str] = Field(default_factory=list, description="cargo setup the sandbox cannot use as given, toolchain, disk")
    notes: list[str] = Field(default_factory=list, description="how the sandbox sees the developer's cargo setup")
