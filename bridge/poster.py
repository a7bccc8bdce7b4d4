"""Replies into the outbox: each one redacted, addressed, split to the post limit and signed with a fresh ref.

Nothing is posted here: a command's replies are queued in the step that finishes the command, and
the runner (or the CLI) delivers the outbox.
"""

from __future__ import annotations

import uuid

from bridge.journal import CommandRow, CommandStatus, Journal, Post
from bridge.models import Reply
from bridge.protocol import format_post
from sandbox.redact import redact


class Poster:
    """Turns replies into posts and queues them in the journal."""

    def __init__(self, journal: Journal, max_chars: int) -> None:
        self.journal = journal
        self.max_chars = max_chars

    def posts(self, reply: Reply, in_reply_to: str | None) -> list[Post]:
        """A reply as signed, bounded, redacted posts, each with a fresh ref."""
        ref = uuid.uuid4().hex[:10]
        parts = format_post(reply.model_copy(update={"text": redact(reply.text)}), limit=self.max_chars, ref=ref)
        refs = [ref] if len(parts) == 1 else [f"{ref}-{i}" for i in range(1, len(parts) + 1)]
        return [Post(in_reply_to=in_reply_to, kind=reply.kind, text=p, ref=r) for p, r in zip(parts, refs, strict=True)]

    def finish(self, row: CommandRow, status: CommandStatus, replies: list[Reply]) -> None:
        """The command is finished and its replies are queued, in one step."""
        self.journal.finish_command(row.id, status, [p for r in replies for p in self.posts(r, row.msg_id)])

    def queue(self, chat_id: str, in_reply_to: str | None, reply: Reply) -> None:
        """A reply that finishes no command (a parse notice, an escalation on a timeout)."""
        self.journal.queue_replies(chat_id, self.posts(reply, in_reply_to))
