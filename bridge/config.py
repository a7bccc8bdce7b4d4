"""Settings: init arguments > `DEVSPACE_*` env vars > a YAML file > defaults; secrets as SecretStr."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import git
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bridge.models import Role
from bridge.protocol.verbs import BY_NAME, default_permissions, suggest
from sandbox.cargo import RunLimits
from sandbox.config import MCP_IDENTITY, SandboxConfig
from sandbox.models import Identity
from sandbox.redact import redactor

CONFIG_ENV = "DEVSPACE_CONFIG"
DEFAULT_CONFIG_NAME = "devspace.yaml"

# Variables other tools already use, read below DevSpace's own settings (and the YAML file).
ENV_FALLBACKS: dict[tuple[str, str], tuple[str, ...]] = {
    ("llm", "api_key"): ("XAI_API_KEY", "OPENAI_API_KEY"),
    ("sandbox", "token"): ("DEVSPACE_SANDBOX_TOKEN",),
    ("chat", "chromium"): ("DEVSPACE_CHROMIUM",),
}

SECRET_FIELDS = frozenset({"api_key", "token"})

UserPath = Annotated[Path, AfterValidator(Path.expanduser)]
Seconds = Annotated[float, Field(gt=0)]


class ConfigError(Exception):
    """Settings that cannot be loaded; the message names the field or the file and is safe to print."""


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "devspace"


def _log_level(value: Any) -> Any:
    if isinstance(value, str):
        upper = value.strip().upper()
        return "WARNING" if upper == "WARN" else upper
    return value


class Section(BaseModel):
    """A settings section: unknown keys are errors, so a misspelt setting is never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class LLMSettings(Section):
    """The OpenAI-compatible API that fix attempts go to when a key is configured."""

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


class ChatSettings(Section):
    """Which chat UI to attach to and how."""

    driver: str = Field(default="playwright", min_length=1, description="the chat driver: playwright, memory, or a module path")
    profile: str = Field(default="grok", min_length=1, description="a profile of the selectors file")
    url: str | None = Field(default=None, description="the conversation's URL; default: the profile's start page")
    selectors_file: UserPath | None = Field(default=None, description="default: the selectors.yaml shipped with DevSpace")
    cdp_url: str | None = Field(default=None, description="attach to a running Chrome over CDP instead of launching one")
    storage_state: UserPath | None = Field(default=None, description="saved login; default: <home>/sessions/<profile>.json")
    headed: bool = False
    dry_run: bool = Field(default=False, description="print replies instead of posting; never commit")
    catch_up: bool = Field(default=False, description="on the first attach, run the commands already in the chat")
    poll_interval: Seconds = Field(default=15.0, description="seconds between refreshes of the conversation")
    answer_timeout: Seconds = Field(default=600.0, description="seconds to wait for the assistant's fix before escalating")
    chromium: UserPath | None = Field(default=None, description="browser executable; also DEVSPACE_CHROMIUM")


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
        for verb in value:
            if verb not in BY_NAME:
                hint = ", ".join(suggest(verb))
                raise ValueError(f"unknown command {verb!r}" + (f" (did you mean: {hint}?)" if hint else ""))
        return {**default_permissions(), **value}


class Identities(Section):
    """Git identities per actor; an identity's name also labels its commits ("From Grok: …")."""

    developer: Identity | None = Field(default=None, description="default: git config user.name/email, else 'Developer'")
    assistant: Identity = Identity(name="Grok", email="grok@x.ai")
    mcp: Identity = Field(default=MCP_IDENTITY, description="the committer of every commit")

    def identity(self, role: Role) -> Identity:
        found: Identity | None = getattr(self, role)
        if found is None:
            raise ConfigError(f"config: identities.{role}: not set")
        return found


class SandboxSettings(Section):
    """Where commands run: in-process (no url) or a remote executor; cargo's limits."""

    url: str | None = Field(default=None, pattern=r"^https?://\S+$", description="a remote executor's base URL")
    token: SecretStr | None = Field(default=None, description="the remote executor's bearer token; also DEVSPACE_SANDBOX_TOKEN")
    token_file: UserPath | None = Field(default=None, description="a file holding the token, read when no token is set")
    limits: RunLimits = Field(default_factory=RunLimits)

    @model_validator(mode="after")
    def _read_token(self) -> SandboxSettings:
        if self.token is None and self.token_file is not None:
            try:
                text = self.token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"token_file {self.token_file}: {exc.strerror or exc}") from None
            if not text:
                raise ValueError(f"token_file {self.token_file} is empty")
            self.token = SecretStr(text)
        if self.token is not None:
            redactor.register(self.token.get_secret_value())
        return self


class RepliesSettings(Section):
    """Bounds of what MCP posts."""

    max_chars: int = Field(default=8000, ge=1000, description="longest single post")
    summary_budget: int = Field(default=1500, ge=200, description="characters for a check summary")
    module_chars: int = Field(default=3000, ge=500, description="an updated module longer than this shows only its changed region")


class Settings(BaseSettings):
    """Everything DevSpace is configured with."""

    model_config = SettingsConfigDict(
        env_prefix="DEVSPACE_",
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="forbid",
    )

    config: UserPath | None = Field(default=None, description="the YAML file these settings were read from (DEVSPACE_CONFIG)")
    home: UserPath = Field(default_factory=_data_home, description="state: journal, workspaces, logs, sandwiches, sessions")
    project: UserPath | None = Field(default=None, description="the Rust project's git checkout")
    llm: LLMSettings = Field(default_factory=LLMSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    identities: Identities = Field(default_factory=Identities)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    replies: RepliesSettings = Field(default_factory=RepliesSettings)
    log_level: Annotated[Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_log_level)] = "INFO"
    log_file: UserPath | None = Field(default=None, description="default: <home>/logs/devspace.log")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        init_kwargs: dict[str, Any] = getattr(init_settings, "init_kwargs", {})
        path = _config_path(init_kwargs.get("config"))
        return init_settings, env_settings, YamlFileSource(settings_cls, path), FallbackEnvSource(settings_cls)

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        """Fill the defaults that depend on other settings."""
        if self.chat.storage_state is None:
            self.chat.storage_state = self.home / "sessions" / f"{self.chat.profile}.json"
        if self.log_file is None:
            self.log_file = self.home / "logs" / "devspace.log"
        if self.identities.developer is None:
            self.identities.developer = git_identity(self.project)
        return self

    def sandbox_config(self) -> SandboxConfig:
        """What a LocalExecutor needs from these settings."""
        return SandboxConfig(home=self.home, limits=self.sandbox.limits, committer=self.identities.mcp)


def _config_path(given: str | Path | None) -> Path | None:
    """The YAML file to read: the one given, else $DEVSPACE_CONFIG, else ./devspace.yaml if present."""
    named = given or os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"config: file not found: {path}")
        return path
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.is_file() else None


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from `path`; an empty file is an empty mapping."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"config: {path}: invalid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config: {path}: the top level must be a mapping of settings, not {type(data).__name__}")
    return data


class _DictSource(PydanticBaseSettingsSource):
    """A source that produces its whole dict at once."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False


class YamlFileSource(_DictSource):
    """The settings of a YAML file, recording which file it was."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        return {**read_yaml(self.path), "config": self.path}


class FallbackEnvSource(_DictSource):
    """Well-known variables of other tools (XAI_API_KEY, …), used when nothing else sets the value."""

    def __call__(self) -> dict[str, Any]:
        data: dict[str, dict[str, str]] = {}
        for (section, name), variables in ENV_FALLBACKS.items():
            value = next((os.environ[v] for v in variables if os.environ.get(v)), None)
            if value is not None:
                data.setdefault(section, {})[name] = value
        return data


def git_identity(project: Path | None) -> Identity:
    """The developer as git knows them (the project's config, else the global one), else 'Developer'."""
    try:
        reader = git.Repo(project).config_reader() if project is not None else git.GitConfigParser(read_only=True)
        name = str(reader.get_value("user", "name", "")).strip()
        email = str(reader.get_value("user", "email", "")).strip()
    except (git.GitError, OSError, ValueError):
        name = email = ""
    return Identity(name=name or "Developer", email=email or "developer@devspace.local")


def _describe(error: dict[str, Any]) -> str:
    """One validation error as `config: <dotted.field>: <message> (got <value>)`; secrets are never shown."""
    loc = ".".join(str(part) for part in error["loc"]) or "settings"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"config: {loc}: unknown setting"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    secret = str(error["loc"][-1]) in SECRET_FIELDS if error["loc"] else False
    if kind != "missing" and not secret and isinstance(value, str | int | float | bool):
        shown = repr(value) if isinstance(value, str) else str(value)
        message += f" (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
    return f"config: {loc}: {message}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from `overrides`, the environment, a YAML file and the defaults, in that order.

    Raises ConfigError with one line per bad value, each naming its field.
    """
    try:
        return Settings(config=config_file, **overrides) if config_file else Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(dict(e)) for e in exc.errors())) from None
