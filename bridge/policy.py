"""Who may run what, how often, when an assistant-driven chain must stop, and whether the critic may speak."""

from __future__ import annotations

from collections.abc import Callable

from bridge.journal import Journal
from bridge.models import Command, Role
from bridge.protocol.verbs import canonical
from sandbox.patch import carries_edit

STREAK_KEY = "assistant_streak"
CRITICS_KEY = "critics_allowed"


def carries_patch(cmd: Command) -> bool:
    """An improvement carries a patch when it has a code block or data the applier reads as an edit; else it is a vibe."""
    if cmd.code_blocks:
        return True
    return "vibe" not in cmd.params and carries_edit("\n".join([cmd.data or "", cmd.body]))


class Policy:
    """Access rules, the flood limit and the loop guard, backed by the journal."""

    def __init__(
        self,
        permissions: dict[str, list[Role]],
        journal: Journal,
        *,
        flood_per_minute: int,
        loop_limit: int,
        clock: Callable[[], float],
    ) -> None:
        self.permissions = permissions
        self.journal = journal
        self.flood_per_minute = flood_per_minute
        self.loop_limit = loop_limit
        self.clock = clock

    def allowed_roles(self, cmd: Command) -> list[Role]:
        if cmd.verb == "code improvement" and not carries_patch(cmd):
            return ["developer", "assistant", "mcp"]
        return list(self.permissions.get(canonical(cmd.verb) or cmd.verb, ["developer"]))

    def refusal(self, chat_id: str, role: Role, cmd: Command) -> str | None:
        """Why this command must not run now, or None."""
        roles = self.allowed_roles(cmd)
        if role not in roles:
            return f"`{cmd.verb}` is not allowed for the {role}; allowed: {', '.join(roles)}"
        recent = self.journal.executions_since(chat_id, self.clock() - 60.0)
        if recent >= self.flood_per_minute:
            return f"flood limit: {recent} commands ran in the last minute (limit {self.flood_per_minute}); try again shortly"
        if role == "assistant" and self.chain_paused(chat_id):
            return (
                f"loop guard: the assistant has run {self.streak(chat_id)} commands in a row without the developer; "
                "paused until the developer writes in the chat"
            )
        return None

    def streak(self, chat_id: str) -> int:
        return int(self.journal.get(chat_id, STREAK_KEY, 0))

    def note_execution(self, chat_id: str, role: Role) -> None:
        if role == "assistant":
            self.note_chained(chat_id)

    def note_chained(self, chat_id: str) -> None:
        """One more run in the chain the developer did not ask for (an assistant's command, a critic's own review)."""
        self.journal.put(chat_id, STREAK_KEY, self.streak(chat_id) + 1)

    def chain_paused(self, chat_id: str) -> bool:
        return self.streak(chat_id) >= self.loop_limit

    def note_developer(self, chat_id: str, *, critics_allowed: bool) -> None:
        """The developer wrote: the chain starts afresh, and the critic may speak while this message allows it."""
        self.journal.put(chat_id, STREAK_KEY, 0)
        self.journal.put(chat_id, CRITICS_KEY, critics_allowed)

    def critics_allowed(self, chat_id: str) -> bool:
        return bool(self.journal.get(chat_id, CRITICS_KEY, False))
