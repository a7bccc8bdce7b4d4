"""The sandbox's settings: init arguments > `DEVSPACE_*` env vars > a YAML file > defaults; secrets as SecretStr.

The sandbox reads the same `devspace.yaml` as the bridge (one file for both containers): it takes
the keys it knows, each section checked strictly, and leaves the bridge's sections (`llm`, `chat`,
`rules`) to the bridge, whose `Settings` extends these and refuses unknown keys anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sandbox.cargo import RunLimits
from sandbox.config import BOT_IDENTITY, SandboxConfig
from sandbox.errors import describe
from sandbox.models import Identity
from sandbox.operations import Role
from sandbox.redact import redactor
from sandbox.summary import DEFAULT_BUDGET

CONFIG_ENV = "DEVSPACE_CONFIG"
DEFAULT_CONFIG_NAME = "devspace.yaml"
SECRET_FIELDS = frozenset({"api_key", "token"})

UserPath = Annotated[Path, AfterValidator(Path.expanduser)]
Seconds = Annotated[float, Field(gt=0)]
S = TypeVar("S", bound="SandboxSettings")


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


class SandboxSection(Section):
    """Where commands run: in-process (no url) or a remote executor; cargo's limits."""

    url: str | None = Field(default=None, pattern=r"^https?://\S+$", description="a remote executor's base URL")
    token: SecretStr | None = Field(default=None, description="the remote executor's bearer token; also DEVSPACE_SANDBOX_TOKEN")
    token_file: UserPath | None = Field(default=None, description="a file holding the token, read when no token is set")
    limits: RunLimits = Field(default_factory=RunLimits)
    cargo_home: UserPath | None = Field(
        default=None, description="the cargo home your own cargo uses (its registry cache and config.toml); default: $CARGO_HOME, else ~/.cargo"
    )

    @model_validator(mode="after")
    def _read_token(self) -> SandboxSection:
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


class Identities(Section):
    """Git identities per actor; an identity's name also labels its commits ("From Grok: …")."""

    developer: Identity | None = Field(default=None, description="default: git config user.name/email, else 'Developer'")
    assistant: Identity = Identity(name="Grok", email="grok@x.ai")
    mcp: Identity = Field(default=BOT_IDENTITY, description="the bot: the committer of every commit")

    def identity(self, role: Role) -> Identity:
        found: Identity | None = getattr(self, role)
        if found is None:
            raise ConfigError(f"config: identities.{role}: not set")
        return found


class McpServerSection(Section):
    """The Model Context Protocol server (`devspace mcp`): which of its clients act as the developer."""

    developers: list[str] = Field(
        default_factory=list,
        description="MCP client names (the clientInfo.name a client declares) that act as the developer, "
        "may commit and undo, and commit as identities.developer; every other client is the assistant",
    )


class Summaries(BaseModel):
    """The `replies` keys the sandbox uses (the bridge's own `replies` keys are the bridge's to check)."""

    model_config = ConfigDict(extra="ignore")

    summary_budget: int = Field(default=DEFAULT_BUDGET, ge=200, description="characters for a check summary")


class SandboxSettings(BaseSettings):
    """What `devspace sandbox serve` and `devspace mcp` are configured with (the bridge's Settings extend it)."""

    model_config = SettingsConfigDict(env_prefix="DEVSPACE_", env_nested_delimiter="__", env_ignore_empty=True, extra="ignore")

    ENV_FALLBACKS: ClassVar[dict[tuple[str, str], tuple[str, ...]]] = {("sandbox", "token"): ("DEVSPACE_SANDBOX_TOKEN",)}
    """Variables other tools already use, read below DevSpace's own settings (and the YAML file)."""

    config: UserPath | None = Field(default=None, description="the YAML file these settings were read from (DEVSPACE_CONFIG)")
    home: UserPath = Field(default_factory=_data_home, description="state: journal, workspaces, logs, sandwiches, sessions")
    project: UserPath | None = Field(default=None, description="the Rust project's git checkout")
    sandbox: SandboxSection = Field(default_factory=SandboxSection)
    identities: Identities = Field(default_factory=Identities)
    mcp_server: McpServerSection = Field(default_factory=McpServerSection)
    replies: Summaries = Field(default_factory=Summaries)
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
        return init_settings, env_settings, YamlFileSource(settings_cls, path), FallbackEnvSource(settings_cls, cls.ENV_FALLBACKS)

    @model_validator(mode="after")
    def _derive_sandbox(self) -> SandboxSettings:
        """Fill the defaults that depend on other settings."""
        if self.log_file is None:
            self.log_file = self.home / "logs" / "devspace.log"
        if self.identities.developer is None:
            self.identities.developer = git_identity(self.project)
        return self

    def sandbox_config(self) -> SandboxConfig:
        """What a LocalExecutor needs from these settings."""
        return SandboxConfig(home=self.home, limits=self.sandbox.limits, committer=self.identities.mcp, cargo_home=self.sandbox.cargo_home)


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

    def __init__(self, settings_cls: type[BaseSettings], fallbacks: dict[tuple[str, str], tuple[str, ...]]) -> None:
        super().__init__(settings_cls)
        self.fallbacks = fallbacks

    def __call__(self) -> dict[str, Any]:
        data: dict[str, dict[str, str]] = {}
        for (section, name), variables in self.fallbacks.items():
            value = next((os.environ[v] for v in variables if os.environ.get(v)), None)
            if value is not None:
                data.setdefault(section, {})[name] = value
        return data


def git_identity(project: Path | None) -> Identity:
    """The developer as git knows them (the project's config, else the global one), else 'Developer'."""
    import git  # GitPython is slow to import: only when no developer identity is configured

    try:
        reader = git.Repo(project).config_reader() if project is not None else git.GitConfigParser(read_only=True)
        name = str(reader.get_value("user", "name", "")).strip()
        email = str(reader.get_value("user", "email", "")).strip()
    except (git.GitError, OSError, ValueError):
        name = email = ""
    return Identity(name=name or "Developer", email=email or "developer@devspace.local")


def load(settings_cls: type[S], config_file: Path | None = None, **overrides: Any) -> S:
    """Settings from `overrides`, the environment, a YAML file and the defaults, in that order.

    Raises ConfigError with one line per bad value, each naming its field (secrets are never shown).
    """
    try:
        return settings_cls(config=config_file, **overrides) if config_file else settings_cls(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            secret = bool(error["loc"]) and str(error["loc"][-1]) in SECRET_FIELDS
            lines.append("config: " + describe(error, show_input=not secret, unknown="unknown setting", whole="settings"))
        raise ConfigError("\n".join(lines)) from None
