"""Who may run what, how often, and when an assistant-driven chain must stop."""

from __future__ import annotations

from collections.abc import Callable

from bridge.journal import Journal
from bridge.models import Command, Role
from bridge.protocol.verbs import canonical

STREAK_KEY = "assistant_streak"


PATCH_MARKERS = ("@@", "<<<<<<< SEARCH", "<code_file", "<code_patch", "diff --git", "\n--- ", "\n+++ ")


def carries_patch(cmd: Command) -> bool:
    """An improvement carries a patch when it has a code block or patch-shaped data; else it is a vibe."""
    if cmd.code_blocks:
        return True
    text = "\n" + (cmd.data or "") + "\n" + cmd.body
    return "vibe" not in cmd.params and any(marker in text for marker in PATCH_MARKERS)


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
        if role == "assistant" and self.streak(chat_id) >= self.loop_limit:
            return (
                f"loop guard: the assistant has run {self.streak(chat_id)} commands in a row without the developer; "
                "paused until the developer writes in the chat"
            )
        return None

    def streak(self, chat_id: str) -> int:
        return int(self.journal.get(chat_id, STREAK_KEY, 0))

    def note_execution(self, chat_id: str, role: Role) -> None:
        if role == "assistant":
            self.journal.put(chat_id, STREAK_KEY, self.streak(chat_id) + 1)

    def note_developer(self, chat_id: str) -> None:
        self.journal.put(chat_id, STREAK_KEY, 0)
