"""A conversation driven by hand through the orchestrator: messages in, the outbox's replies out."""

from __future__ import annotations

from bridge.models import ChatMessage, Role
from bridge.orchestrator import Orchestrator


class Chat:
    def __init__(self, orchestrator: Orchestrator, chat_id: str = "123") -> None:
        self.orchestrator = orchestrator
        self.chat_id = chat_id
        self.count = 0

    def say(self, role: Role, text: str) -> list[str]:
        """The replies the message produced, marked posted."""
        self.count += 1
        self.orchestrator.handle(ChatMessage(id=f"m{self.count}", role=role, text=text, chat_id=self.chat_id))
        journal = self.orchestrator.journal
        out = []
        for row in journal.pending_replies(self.chat_id):
            out.append(row.text)
            journal.mark_posted(row.id, None)
        return out
