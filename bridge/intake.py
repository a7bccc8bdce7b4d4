"""A complete chat message in: recorded once, with its commands and the notices for lines not executed.

The bot's own posts are recorded and run nothing. Everything a message yields (the message, its
commands, the notices, the developer's turn for the loop guard) is written in one transaction,
before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from loguru import logger

from bridge import protocol
from bridge.journal import Journal
from bridge.models import ChatMessage, Reply
from bridge.policy import Policy
from bridge.poster import Poster
from bridge.protocol.tags import CRITICS_ALLOWED, carries
from bridge.protocol.verbs import Verb


class Intake:
    """`roles`: the configured agent roles' verbs by tag, whose tags are commands too."""

    def __init__(self, journal: Journal, poster: Poster, policy: Policy, roles: Mapping[str, Verb]) -> None:
        self.journal = journal
        self.poster = poster
        self.policy = policy
        self.roles = roles

    def is_own_post(self, message: ChatMessage) -> bool:
        """A post of the bot: read back (by its signature, or as an outbox entry whatever the UI did to it)."""
        return (
            message.role == "mcp"
            or protocol.is_bot_post(message.text)
            or self.journal.is_our_post(message.chat_id, message.text, protocol.post_ref(message.text))
        )

    def take(self, message: ChatMessage) -> None:
        """Record a message and its commands once; a message seen before is ignored."""
        chat = message.chat_id
        if self.journal.seen(chat, message.id):
            return
        if self.is_own_post(message):
            self.journal.record_message(message.model_copy(update={"role": "mcp"}), [])
            return
        parsed = protocol.parse(message, self.roles)
        with self.journal.tx():
            if not self.journal.record_message(message, parsed.commands):
                return
            if message.role == "developer":
                self.policy.note_developer(chat, critics_allowed=carries(message.text, CRITICS_ALLOWED))
            for issue in parsed.issues:
                self.poster.queue(chat, message.id, Reply(text=issue.reason, kind="error"))
        if parsed.commands:
            logger.info(f"message {message.id} from {message.role}: {', '.join(c.verb for c in parsed.commands)}")
