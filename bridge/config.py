"""The bridge's settings: the sandbox's settings (`sandbox.settings`) plus the chat, the LLM API, the agent roles and the rules.

Precedence: init arguments > `DEVSPACE_*` env vars > a YAML file > defaults; secrets as SecretStr.
Unknown keys are errors anywhere, so a misspelt setting is never silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from bridge.chat.recycling import Recycling
from bridge.protocol.verbs import Verb, canonical, default_permissions, suggest
from bridge.roles.config import RoleSettings, with_builtin
from sandbox.models import Identity
from sandbox.operations import Role
from sandbox.redact import redactor
from sandbox.settings import (
    ConfigError,
    SandboxSettings,
    Seconds,
    Section,
    Summaries,
    UserPath,
    load,
)

__all__ = ["ConfigError", "Settings", "load_settings"]


class LLMSettings(Section):
    """The OpenAI-compatible API that fix attempts go to when a key is configured; the roles' default endpoint."""

    api_key: SecretStr | None = Field(default=None, description="falls back to XAI_API_KEY, then OPENAI_API_KEY")
    base_url: str = Field(default="https://api.x.ai/v1", pattern=r"^https?://\S+$")
    model: str = Field(default="grok-4", min_length=1)
    timeout: Seconds = Field(default=120.0, description="seconds per request")
    max_retries: int = Field(default=4, ge=0, description="retries after the first try, on 429, 5xx, timeouts")
    max_backoff: Seconds = Field(default=30.0, description="longest wait between tries; a longer Retry-After gives up")

    @model_validator(mode="after")
    def _register_secret(self) -> LLMSettings:
        if self.api_key is not None:
            redactor.register(self.api_key.get_secret_value())
        return self


class ChatSettings(Section, Recycling):
    """Which chat UI to attach to and how; how often a launched browser is renewed (`Recycling`)."""

    driver: str = Field(default="playwright", min_length=1, description="the chat driver: playwright, memory, or a module path")
    profile: str = Field(default="grok", min_length=1, description="a profile of the selectors file")
    url: str | None = Field(default=None, description="the conversation's URL; default: the profile's start page")
    selectors_file: UserPath | None = Field(default=None, description="default: the selectors.yaml shipped with DevSpace")
    cdp_url: str | None = Field(default=None, description="attach to a running Chrome over CDP instead of launching one")
    storage_state: UserPath | None = Field(default=None, description="saved login; default: <home>/sessions/<profile>.json")
    dry_run: bool = Field(default=False, description="print replies instead of posting; never commit")
    catch_up: bool = Field(default=False, description="on the first attach, run the commands already in the chat")
    answer_timeout: Seconds = Field(default=600.0, description="seconds to wait for the assistant's fix before escalating")
    check_environment: bool = Field(
        default=True, description="at attach, check the project's environment in the background (builds the base once); problems are posted to @dev"
    )
    chromium: UserPath | None = Field(default=None, description="browser executable; also DEVSPACE_CHROMIUM")


DEVELOPER_ONLY = frozenset({"fetch"})
"""Verbs no configuration gives to an LLM: the fetch stage downloads what a manifest names."""


class RulesSettings(Section):
    """Who may run what, and the limits on chains and fix attempts."""

    permissions: dict[str, list[Role]] = Field(
        default_factory=dict, validate_default=True, description="verb -> roles allowed; verbs not named keep their defaults"
    )
    flood_per_minute: int = Field(default=20, gt=0)
    loop_limit: int = Field(default=5, gt=0, description="assistant-initiated executions in a row before pausing")
    max_attempts: int = Field(default=3, gt=0, description="fix attempts per task before escalating")

    @field_validator("permissions", mode="after")
    @classmethod
    def _over_defaults(cls, value: dict[str, list[Role]]) -> dict[str, list[Role]]:
        named: dict[str, list[Role]] = {}
        for verb, roles in value.items():
            name = canonical(verb)
            if name is None:
                hint = ", ".join(suggest(verb))
                raise ValueError(f"unknown command {verb!r}" + (f" (did you mean: {hint}?)" if hint else ""))
            if name in DEVELOPER_ONLY and set(roles) - {"developer"}:
                raise ValueError(f"`{name}` is the developer's only (it uses the network): it cannot be allowed for {', '.join(roles)}")
            named[name] = roles
        return {**default_permissions(), **named}


class RepliesSettings(Summaries):
    """Bounds of what the bot posts."""

    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(default=8000, ge=1000, description="longest single post")
    post_chars: int = Field(
        default=1500, ge=400, description="a successful patch's post: its diff stat, the changed hunks (capped) and the check"
    )


class Settings(SandboxSettings):
    """Everything DevSpace is configured with."""

    model_config = SettingsConfigDict(env_prefix="DEVSPACE_", env_nested_delimiter="__", env_ignore_empty=True, extra="forbid")

    ENV_FALLBACKS: ClassVar[dict[tuple[str, str], tuple[str, ...]]] = {
        **SandboxSettings.ENV_FALLBACKS,
        ("llm", "api_key"): ("XAI_API_KEY", "OPENAI_API_KEY"),
        ("chat", "chromium"): ("DEVSPACE_CHROMIUM",),
    }

    llm: LLMSettings = Field(default_factory=LLMSettings)
    roles: dict[str, RoleSettings] = Field(
        default_factory=dict, validate_default=True, description="agent roles by name (their tag is @name), over the four built in"
    )
    chat: ChatSettings = Field(default_factory=ChatSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    replies: RepliesSettings = Field(default_factory=RepliesSettings)

    @field_validator("roles", mode="before")
    @classmethod
    def _over_builtin(cls, value: Any) -> Any:
        return with_builtin(value)

    @model_validator(mode="after")
    def _derive_chat(self) -> Settings:
        """Fill the defaults that depend on other settings."""
        if self.chat.storage_state is None:
            self.chat.storage_state = self.home / "sessions" / f"{self.chat.profile}.json"
        return self


    def role_verbs(self) -> dict[str, Verb]:
        """The configured roles' verbs by tag (`@critic` -> its verb)."""
        return {f"@{name}": role.verb(name) for name, role in self.roles.items()}

    def identity_of(self, author: str) -> Identity:
        """The git identity of an author: an agent role, the assistant, else the developer (a role no longer configured too)."""
        if author in self.roles:
            return self.roles[author].author(author)
        return self.identities.identity("assistant" if author == "assistant" else "developer")


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """The bridge's settings; raises ConfigError with one line per bad value, each naming its field."""
    return load(Settings, config_file, **overrides)
