"""What a role is shown, bounded and explicit: the files named, the last few turns, the last change, the
critic's earlier reviews. Never the whole history: the journal keeps only the last turns' text."""

from __future__ import annotations

from pydantic import BaseModel

from bridge.journal import Journal
from sandbox.errors import SandboxError
from sandbox.executor import Executor
from sandbox.models import CodeFile
from sandbox.operations import GetCodeRequest
from sandbox.text import clip

TURNS = 6
"""Chat turns a role is shown."""
MAX_FILES = 6
"""Files a role is shown (the first ones named)."""
KEPT_REVIEWS = 3
CHANGE_CHARS = 24_000
REVIEW_CHARS = 3_000
LAST_CHANGE = "last_change"
REVIEWS = "critic_reviews"
ACTOR_LABELS = {"developer": "developer", "assistant": "assistant", "mcp": "MCP"}


class Change(BaseModel):
    """The last patch that landed in a chat: its text (bounded), the files it touched, its author."""

    payload: str
    paths: list[str]
    author: str


def files_named(executor: Executor, file_ids: list[int]) -> list[CodeFile]:
    """The files a command names, in its order (the first MAX_FILES); a file_id that is not known raises NotFound."""
    return [executor.run(GetCodeRequest(file_id=file_id)) for file_id in list(dict.fromkeys(file_ids))[:MAX_FILES]]


def files_at(executor: Executor, paths: list[str]) -> list[CodeFile]:
    """The files at `paths` that still exist (the first MAX_FILES)."""
    found: list[CodeFile] = []
    for path in paths[:MAX_FILES]:
        try:
            found.append(executor.run(GetCodeRequest(path=path)))
        except SandboxError:  # deleted since
            continue
    return found


def turns(journal: Journal, chat_id: str, up_to: str | None = None) -> list[tuple[str, str]]:
    """The last TURNS turns (actor, text), oldest first, up to the message `up_to` when given."""
    return [(ACTOR_LABELS.get(t.role, t.role), t.text) for t in journal.last_turns(chat_id, TURNS, up_to)]


def remember_change(journal: Journal, chat_id: str, change: Change) -> None:
    bounded = change.model_copy(update={"payload": clip(change.payload, CHANGE_CHARS)})
    journal.put(chat_id, LAST_CHANGE, bounded.model_dump())


def last_change(journal: Journal, chat_id: str) -> Change | None:
    saved = journal.get(chat_id, LAST_CHANGE)
    return Change.model_validate(saved) if saved else None


def remember_review(journal: Journal, chat_id: str, text: str) -> None:
    journal.put(chat_id, REVIEWS, [*reviews(journal, chat_id), clip(text, REVIEW_CHARS)][-KEPT_REVIEWS:])


def reviews(journal: Journal, chat_id: str) -> list[str]:
    """The critic's last reviews in this chat, oldest first."""
    return list(journal.get(chat_id, REVIEWS, []))
