"""The `@agent` verbs, each declared once: its name, who may use it by default, whether it mutates,
the model of its arguments (built by the parser) and its help line.

A verb that runs one sandbox operation as it is comes from that operation's declaration
(`sandbox.operations`, its `verb`); the verbs with more to them (`help`, `code improvement`,
`code test`, `commit`) are declared here. The help text, the default permissions and the
validation of a command's arguments all derive from this table.

Agent roles are verbs of another kind: each configured role (`bridge.roles`) is a verb named by
its tag (`@critic`), written at the start of a line instead of `@agent`, with `RoleArguments`.
They come from configuration, so the functions that need them take them as `roles` (tag -> verb).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.operations import (
    OPERATIONS,
    ROLES,
    Access,
    ChatKey,
    CheckTestRequest,
    FileId,
    FileIds,
    Operation,
    Role,
    TestFilter,
    Topic,
)

SUGGEST_CUTOFF = 0.6
SUGGEST_MARGIN = 0.05
DATE_META = r"\d{4}-\d{2}-\d{2}"
"""A `#meta` that dates a command (`#2025-07-12`): never a topic."""


class Arguments(BaseModel):
    """Base of a chat-only verb's arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArguments(Arguments):
    pass


class ImprovementArguments(Arguments):
    file_id: Annotated[FileId | None, Field(description="the file a bare diff or whole-file block is for")] = None
    vibe: str | None = Field(default=None, description="a request to the assistant instead of a patch")


class CommitArguments(Arguments):
    msg: str | None = Field(default=None, description="the commit message")


class RoleArguments(Arguments):
    """What a role tag may name: the files of its context, a topic (for a patch: the test filter its tests must
    match), a request; the rest of the request is the command's data or the text after its line."""

    file_ids: Annotated[FileIds | None, ChatKey("file_id"), Field(description="the files the role is shown, as a sandwich")] = None
    topic: Annotated[TestFilter | None, Topic] = None
    vibe: str | None = Field(default=None, description="the request, as `[vibe: …]`")


Produces = Literal["patch", "text"]
"""What a role's answer is: a patch (applied, built and checked) or text only (posted)."""


@dataclass(frozen=True)
class Verb:
    """One `@agent` verb (see the module docstring); `operation` names the sandbox operation it runs as it is."""

    name: str
    access: Access
    mutates: bool
    args: type[BaseModel]
    summary: str
    usage: str
    aliases: tuple[str, ...] = ()
    operation: str | None = None
    needs_data: bool = False
    role: str | None = None
    """The agent role a tag verb calls (its name without the '@'); None for an `@agent` verb."""

    @property
    def roles(self) -> list[Role]:
        return list(ROLES[self.access])

    @property
    def written(self) -> str:
        """How a command of this verb is written: `@agent <usage>`, or a role's usage (its tag first)."""
        return self.usage if self.role is not None else f"@agent {self.usage}"

    @cached_property
    def keys(self) -> dict[str, str]:
        """The `key=value` keys a command may give, each with the argument it fills."""
        fields = self.args.model_fields.items()
        return {next((m.name for m in info.metadata if isinstance(m, ChatKey)), name): name for name, info in fields}

    @cached_property
    def topic(self) -> str | None:
        """The argument that the command's first topic `#word` fills when no key=value names it."""
        return next((name for name, info in self.args.model_fields.items() if Topic in info.metadata), None)


def _run_as_is(op: Operation[Any]) -> Verb:
    assert op.verb is not None
    return Verb(
        name=op.verb, access=op.access, mutates=op.mutates, args=op.request, summary=op.summary, usage=op.usage,
        aliases=op.aliases, operation=op.name,
    )


def _group(first_word: str | None) -> list[Verb]:
    """The sandbox's verbs whose first word is `first_word` (None: every other one), in declaration order."""
    words = ("code", "check")
    return [
        _run_as_is(op) for op in OPERATIONS.values()
        if op.verb is not None and (op.verb.split()[0] == first_word if first_word else op.verb.split()[0] not in words)
    ]


HELP = Verb(name="help", access="all", mutates=False, args=NoArguments, summary="this list", usage="help")
IMPROVEMENT = Verb(
    name="code improvement", access="developer+assistant", mutates=True, args=ImprovementArguments,
    summary="apply a patch, build and check for degradation (3 fix attempts, then escalate); a vibe is a request to the assistant",
    usage="code improvement [#date] [file_id=N] [vibe: …] | [patch] | a fenced patch block after the line",
    needs_data=True,
)
CODE_TEST = Verb(
    name="code test", access="all", mutates=False, args=CheckTestRequest,
    summary="`check test`, then up to 3 fix attempts on failure", usage="code test [#filter]",
)
COMMIT = Verb(
    name="commit", access="developer", mutates=True, args=CommitArguments,
    summary="commit the pending changes with attribution", usage="commit [msg: …]",
)

VERBS: tuple[Verb, ...] = (HELP, *_group("code"), IMPROVEMENT, CODE_TEST, *_group("check"), COMMIT, *_group(None))
BY_NAME: dict[str, Verb] = {v.name: v for v in VERBS}
"""Every verb by its canonical name."""
WRITTEN: dict[str, Verb] = {**{a: v for v in VERBS for a in v.aliases}, **BY_NAME}
"""Every verb by each name it may be written with (canonical names and aliases)."""
MAX_VERB_WORDS = max(len(name.split()) for name in WRITTEN)


def role_verb(name: str, *, summary: str, produces: Produces, access: Access) -> Verb:
    """The verb of the agent role `name`: tag `@name`; a patch role mutates the workspace."""
    kind = "a patch, applied and checked" if produces == "patch" else "text only"
    return Verb(
        name=f"@{name}", access=access, mutates=produces == "patch", args=RoleArguments, summary=f"{summary} ({kind})",
        usage=f"@{name} [file_id=N,…] [#topic] [request]", role=name,
    )


def lookup(words: list[str]) -> tuple[Verb, int] | None:
    """The verb the leading words name (longest match, case-insensitive) and how many words it used."""
    lowered = [w.lower() for w in words[:MAX_VERB_WORDS]]
    for count in range(len(lowered), 0, -1):
        verb = WRITTEN.get(" ".join(lowered[:count]))
        if verb is not None:
            return verb, count
    return None


def find(name: str, roles: Mapping[str, Verb] | None = None) -> Verb | None:
    """The verb written as `name` (its canonical name, an alias or a role's tag, any case), or None."""
    key = " ".join(name.lower().split())
    return WRITTEN.get(key) or (roles or {}).get(key)


def canonical(name: str) -> str | None:
    """The canonical name of a verb written as `name`, or None for no verb."""
    verb = find(name)
    return verb.name if verb is not None else None


def suggest(written: str) -> list[str]:
    """The verbs closest to what was written: near spellings, or the verbs of a group like `code`."""
    text = " ".join(written.lower().split())
    group = [v.name for v in VERBS if v.name.startswith(text + " ")]
    if group:
        return group
    scored = sorted(((difflib.SequenceMatcher(None, text, v.name).ratio(), v.name) for v in VERBS), reverse=True)
    best = scored[0][0]
    return [name for score, name in scored if score >= SUGGEST_CUTOFF and score >= best - SUGGEST_MARGIN]


def default_permissions() -> dict[str, list[Role]]:
    """Verb -> roles allowed by default, derived from the table."""
    return {v.name: v.roles for v in VERBS}


def _row(verb: Verb) -> str:
    also = f"; also written {', '.join(f'`{a}`' for a in verb.aliases)}" if verb.aliases else ""
    return f"- `{verb.written}` — {verb.summary} ({verb.access})" + also


def help_text(roles: Mapping[str, Verb] | None = None) -> str:
    """The command list the bot posts for `@agent help`, with the configured roles' tags."""
    tags = list((roles or {}).values())
    role_rows = [
        "",
        (
            "Roles: LLM agents called by their tag at the start of a line; the bot applies and checks what they produce, "
            "they never commit or undo. Context: the files named, the last few turns, the request."
        ),
        *(_row(v) for v in tags),
    ] if tags else []
    return "\n".join(
        [
            "Commands, each on its own line starting with `@agent`:",
            *(_row(v) for v in VERBS),
            *role_rows,
            "",
            "`#meta`: a date (`#2025-07-12`) or a topic/test filter (`#aggr_trades`); `key=value`: `file_id=51`, `path=src/lib.rs`.",
            "Data: a trailing `[ … ]` (`[msg: …]`, `[vibe: …]`) or fenced code blocks after the command line (best for patches).",
            "Who: all = anyone in the chat; developer+assistant; developer = the human only.",
        ]
    )
