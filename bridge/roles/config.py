"""An agent role's settings (`roles:` in devspace.yaml) and the four roles built in.

A role is configuration: a name (its tag is `@name`), a system prompt, what it produces (a patch or
text only), who may call it, an OpenAI-compatible endpoint and model (the `llm` section's unless
given), and limits. The built-in roles' settings can be overridden key by key; a new role needs at
least its `prompt`.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, model_validator

from bridge import prompts
from bridge.protocol.verbs import Produces, Verb, find, role_verb
from sandbox.models import Identity
from sandbox.redact import redactor
from sandbox.settings import Section

if TYPE_CHECKING:
    from bridge.config import LLMSettings

ROLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
RESERVED = frozenset({"agent", "all", "dev", "developer", "assistant", "mcp", "here", "everyone"})
"""Names a role may not take: the command tag and the addresses the bot's posts and chat UIs use."""
CRITIC = "critic"
"""The role that reviews each landed patch while the developer allows critics (`#critics_allowed`)."""

BUILTIN: dict[str, dict[str, Any]] = {
    "generator": {"prompt": prompts.GENERATOR, "produces": "patch", "summary": "writes a patch for a request"},
    "tester": {"prompt": prompts.TESTER, "produces": "patch", "summary": "writes or extends tests for a file or a failing behaviour"},
    "critic": {"prompt": prompts.CRITIC, "produces": "text", "summary": "reviews the files named, a patch after the line, or the last change"},
    "optimizer": {"prompt": prompts.OPTIMIZER, "produces": "patch", "summary": "proposes a faster or smaller version, same behaviour"},
}


class RoleSettings(Section):
    """One role (see the module docstring)."""

    prompt: str = Field(min_length=1, description="the system prompt")
    produces: Produces = Field(default="text", description="patch: applied, built and checked; text: posted")
    summary: str = Field(default="a role of this project", min_length=1, max_length=200, description="its line in `@agent help`")
    access: Literal["developer", "developer+assistant"] = Field(
        default="developer", description="who may call it: the developer only, or the assistant too"
    )
    base_url: str | None = Field(default=None, pattern=r"^https?://\S+$", description="an OpenAI-compatible endpoint; default: llm.base_url")
    model: str | None = Field(default=None, min_length=1, description="default: llm.model")
    api_key: SecretStr | None = Field(
        default=None, description="its own key (DEVSPACE_ROLES__<NAME>__API_KEY); on llm.base_url it defaults to llm.api_key"
    )
    api_key_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="the environment variable that holds its key (e.g. OPENAI_API_KEY)"
    )
    max_tokens: int = Field(default=4096, gt=0, le=1_000_000, description="output tokens per call")
    calls_per_hour: int = Field(default=30, gt=0, description="API calls per hour, fix attempts included, over all chats")
    identity: Identity | None = Field(default=None, description="the author of commits of its patches; default: '<Name> <name@roles.devspace.local>'")

    @model_validator(mode="after")
    def _read_key(self) -> RoleSettings:
        if self.api_key is None and self.api_key_env and os.environ.get(self.api_key_env):
            self.api_key = SecretStr(os.environ[self.api_key_env])
        if self.api_key is not None:
            redactor.register(self.api_key.get_secret_value())
        return self

    def endpoint(self, llm: LLMSettings) -> LLMSettings | None:
        """The API settings of this role's calls, or None when it has no key.

        The `llm` key is used only on the `llm` endpoint: a key is never sent to another vendor.
        """
        base_url = self.base_url or llm.base_url
        key = self.api_key or (llm.api_key if base_url.rstrip("/") == llm.base_url.rstrip("/") else None)
        if key is None:
            return None
        return llm.model_copy(update={"base_url": base_url, "model": self.model or llm.model, "api_key": key})

    def author(self, name: str) -> Identity:
        return self.identity or Identity(name=name.replace("_", " ").replace("-", " ").title(), email=f"{name}@roles.devspace.local")

    def verb(self, name: str) -> Verb:
        return role_verb(name, summary=self.summary, produces=self.produces, access=self.access)


def with_builtin(value: Any) -> Any:
    """The `roles` mapping as written, over the built-in roles (key by key for a built-in name); names checked."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return value  # the field's own validation says what is wrong
    merged: dict[str, Any] = {name: dict(defaults) for name, defaults in BUILTIN.items()}
    for name, given in value.items():
        if not isinstance(name, str) or not ROLE_NAME.fullmatch(name):
            raise ValueError(f"role name {name!r}: lowercase letters, digits or '_', starting with a letter (it is the tag: @name)")
        if name in RESERVED or find(name) is not None:
            raise ValueError(f"role name {name!r} is reserved (a command or an address in the chat)")
        if isinstance(given, RoleSettings):
            given = given.model_dump(exclude_unset=True)
        merged[name] = {**merged.get(name, {}), **given} if isinstance(given, dict) else given
    return merged
