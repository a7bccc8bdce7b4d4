"""Who the workspace's pending changes are from, so that a commit is authored by the right actor.

A patch that lands notes its actor; a commit is authored by the assistant when any pending patch
was the assistant's (the developer only asked for it), else by the developer, and starts afresh.
"""

from __future__ import annotations

from bridge.journal import Journal
from sandbox.operations import Role

KEY = "pending_authors"


def note(journal: Journal, chat_id: str, role: Role) -> None:
    journal.put(chat_id, KEY, sorted(set(journal.get(chat_id, KEY, [])) | {role}))


def author_of_pending(journal: Journal, chat_id: str) -> Role:
    return "assistant" if "assistant" in journal.get(chat_id, KEY, []) else "developer"


def committed(journal: Journal, chat_id: str) -> None:
    journal.put(chat_id, KEY, [])
