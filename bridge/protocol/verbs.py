"""The `@agent` verbs, each declared once: its name, who may use it by default, whether it mutates,
the model of its arguments (built by the parser) and its help line.

A verb that runs one sandbox operation as it is comes from that operation's declaration
(`sandbox.operations`, its `verb`); the verbs with more to them (`help`, `code improvement`,
`code test`, `commit`) are declared here. The help text, the default permissions and the
validation of a command's arguments all derive from this table.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sandbox.operations import OPERATIONS, ROLES, Access, ChatKey, CheckTestRequest, FileId, Operation, Role, Topic

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

    @property
    def roles(self) -> list[Role]:
        return list(ROLES[self.access])

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


def lookup(words: list[str]) -> tuple[Verb, int] | None:
    """The verb the leading words name (longest match, case-insensitive) and how many words it used."""
    lowered = [w.lower() for w in words[:MAX_VERB_WORDS]]
    for count in range(len(lowered), 0, -1):
        verb = WRITTEN.get(" ".join(lowered[:count]))
        if verb is not None:
            return verb, count
    return None


def find(name: str) -> Verb | None:
    """The verb written as `name` (its canonical name or an alias, any case), or None."""
    return WRITTEN.get(" ".join(name.lower().split()))


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


def help_text() -> str:
    """The command list the bot posts for `@agent help`."""
    rows = [
        f"- `@agent {v.usage}` — {v.summary} ({v.access})" + (f"; also written {', '.join(f'`{a}`' for a in v.aliases)}" if v.aliases else "")
        for v in VERBS
    ]
    return "\n".join(
        [
            "Commands, each on its own line starting with `@agent`:",
            *rows,
            "",
            "`#meta`: a date (`#2025-07-12`) or a topic/test filter (`#aggr_trades`); `key=value`: `file_id=51`, `path=src/lib.rs`.",
            "Data: a trailing `[ … ]` (`[msg: …]`, `[vibe: …]`) or fenced code blocks after the command line (best for patches).",
            "Who: all = anyone in the chat; developer+assistant; developer = the human only.",
        ]
    )
