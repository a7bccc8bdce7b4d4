"""The roles' API calls: one client per role, on the role's endpoint; its hourly limit; its usage, per chat.

Every call is recorded in the journal (failed ones too: they count against the limit), so that
`status` can show each role's calls and tokens in a chat and the limit holds across restarts.
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from bridge.config import Settings
from bridge.journal import Journal
from bridge.llm import Answer, LLMClient, LLMError
from bridge.roles.config import RoleSettings

HOUR = 3600.0


class RoleCalls:
    def __init__(self, settings: Settings, journal: Journal, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.journal = journal
        self.clock = clock
        self._clients: dict[str, LLMClient] = {}

    def model(self, name: str) -> str:
        """The model a role's calls go to."""
        return self.settings.roles[name].model or self.settings.llm.model

    def complete(self, name: str, chat_id: str, messages: list[dict[str, str]]) -> Answer:
        """The role's answer; LLMError (chat-safe) when it has no key, has reached its limit, or the API failed."""
        role = self.settings.roles[name]
        client = self._client(name, role)
        used = self.journal.role_calls_since(name, self.clock() - HOUR)
        if used >= role.calls_per_hour:
            raise LLMError(
                f"`@{name}` has made its {role.calls_per_hour} calls of the last hour (roles.{name}.calls_per_hour); try again later",
                kind="limit",
            )
        try:
            answer = client.complete(messages, max_tokens=role.max_tokens)
        except LLMError:
            self.journal.record_role_call(chat_id, name, self.clock(), ok=False)
            raise
        self.journal.record_role_call(
            chat_id, name, self.clock(), ok=True, prompt_tokens=answer.prompt_tokens, completion_tokens=answer.completion_tokens
        )
        logger.info(f"@{name} answered in chat {chat_id}: {answer.prompt_tokens} + {answer.completion_tokens} tokens")
        return answer

    def _client(self, name: str, role: RoleSettings) -> LLMClient:
        if name not in self._clients:
            endpoint = role.endpoint(self.settings.llm)
            if endpoint is None:
                raise LLMError(self._what_to_configure(name, role), kind="no_key")
            self._clients[name] = LLMClient(endpoint)
        return self._clients[name]

    def _what_to_configure(self, name: str, role: RoleSettings) -> str:
        llm = self.settings.llm
        own = role.base_url is not None and role.base_url.rstrip("/") != llm.base_url.rstrip("/")
        if not own:
            return (
                f"`@{name}` needs an LLM API key, and none is configured: set XAI_API_KEY (or DEVSPACE_LLM__API_KEY) "
                f"for {llm.base_url} where the bridge runs, or give the role an endpoint of its own in devspace.yaml "
                f"(roles.{name}: base_url, model, api_key_env). Nothing was sent."
            )
        if role.api_key_env:
            return (
                f"`@{name}` needs an API key for {role.base_url}: the variable {role.api_key_env} (roles.{name}.api_key_env) "
                "is not set where the bridge runs. Nothing was sent."
            )
        return (
            f"`@{name}` needs an API key for {role.base_url}: name the variable that holds it in roles.{name}.api_key_env, "
            f"or set DEVSPACE_ROLES__{name.upper()}__API_KEY. Nothing was sent."
        )
