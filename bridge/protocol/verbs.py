"""The command table: canonical verbs, who may use them by default, and what they take."""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import BaseModel

from bridge.models import Role

Access = Literal["all", "developer+assistant", "developer"]

ROLES: dict[Access, list[Role]] = {
    "all": ["developer", "assistant", "mcp"],
    "developer+assistant": ["developer", "assistant"],
    "developer": ["developer"],
}
SUGGEST_CUTOFF = 0.6
SUGGEST_MARGIN = 0.05


class VerbSpec(BaseModel, frozen=True):
    """One command: its canonical name, default access, help line, and the parameters it takes."""

    name: str
    access: Access
    summary: str
    usage: str
    keys: tuple[str, ...] = ()
    needs_one_of: tuple[str, ...] = ()
    needs_data: bool = False
    file_id_list: bool = False


VERBS: tuple[VerbSpec, ...] = (
    VerbSpec(name="help", access="all", summary="this list", usage="help"),
    VerbSpec(name="code files", access="all", summary="list project files with their file_id", usage="code files [#glob]", keys=("glob",)),
    VerbSpec(
        name="code get", access="all", summary="post one file", usage="code get file_id=N | path=P",
        keys=("file_id", "path"), needs_one_of=("file_id", "path"),
    ),
    VerbSpec(
        name="code sandwich", access="all", summary="bundle files as context for the assistant",
        usage="code sandwich file_id=1,2,…", keys=("file_id",), needs_one_of=("file_id",), file_id_list=True,
    ),
    VerbSpec(
        name="code improvement", access="developer+assistant",
        summary="apply a patch, build and check for degradation (3 fix attempts, then escalate); a vibe is a request to the assistant",
        usage="code improvement [#date] [file_id=N] [vibe: …] | [patch] | a fenced patch block after the line",
        keys=("file_id", "vibe"), needs_data=True,
    ),
    VerbSpec(
        name="code test", access="all", summary="run cargo test (3 fix attempts on failure)", usage="code test [#filter]", keys=("filter",)
    ),
    VerbSpec(name="check compile", access="all", summary="build only, no fixes", usage="check compile"),
    VerbSpec(name="check logic", access="all", summary="run the tests only, no fixes", usage="check logic [#filter]", keys=("filter",)),
    VerbSpec(name="check degradation", access="all", summary="build and test against the last good state", usage="check degradation"),
    VerbSpec(
        name="commit", access="developer", summary="commit the pending changes with attribution", usage="commit [msg: …]", keys=("msg",)
    ),
    VerbSpec(name="undo", access="developer", summary="drop the last applied patch (or revert the last MCP commit)", usage="undo"),
    VerbSpec(name="status", access="all", summary="workspace state, pending changes, running task", usage="status"),
)

BY_NAME: dict[str, VerbSpec] = {v.name: v for v in VERBS}
MAX_VERB_WORDS = max(len(v.name.split()) for v in VERBS)


def lookup(words: list[str]) -> tuple[VerbSpec, int] | None:
    """The verb the leading words name (longest match, case-insensitive) and how many words it used."""
    lowered = [w.lower() for w in words[:MAX_VERB_WORDS]]
    for count in range(len(lowered), 0, -1):
        spec = BY_NAME.get(" ".join(lowered[:count]))
        if spec is not None:
            return spec, count
    return None


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
    return {v.name: list(ROLES[v.access]) for v in VERBS}


def help_text() -> str:
    """The command list MCP posts for `@agent help`."""
    rows = [f"- `@agent {v.usage}` — {v.summary} ({v.access})" for v in VERBS]
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
