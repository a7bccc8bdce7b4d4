"""Who the workspace's pending changes are from, so that a commit is authored by the right actor.

A patch that lands notes its author: a chat actor (`developer`, `assistant`) or an agent role
(`generator`, …). A commit is authored by the assistant when any pending patch was the
assistant's (the developer only asked for it), else by the first role whose patch is pending,
else by the developer; then the record starts afresh.
"""

from __future__ import annotations

from bridge.journal import Journal

KEY = "pending_authors"
ACTORS = ("developer", "assistant", "mcp")


def note(journal: Journal, chat_id: str, author: str) -> None:
    noted: list[str] = journal.get(chat_id, KEY, [])
    if author not in noted:
        journal.put(chat_id, KEY, [*noted, author])


def author_of_pending(journal: Journal, chat_id: str) -> str:
    noted: list[str] = journal.get(chat_id, KEY, [])
    if "assistant" in noted:
        return "assistant"
    return next((author for author in noted if author not in ACTORS), "developer")


def committed(journal: Journal, chat_id: str) -> None:
    journal.put(chat_id, KEY, [])
