"""What a LocalExecutor needs to know: where its state lives and how cargo may run."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from sandbox.cargo import RunLimits
from sandbox.models import Identity
from sandbox.workspace import DEFAULT_BRANCH

BOT_IDENTITY = Identity(name="Colloqium MCP", email="mcp@devspace.local")
"""The bot (the chat's third actor, "MCP"): the committer of every commit."""


class SandboxConfig(BaseModel):
    home: Path
    sandwiches: Path | None = Field(default=None, description="default: <home>/sandwiches")
    branch: str = DEFAULT_BRANCH
    limits: RunLimits = Field(default_factory=RunLimits)
    committer: Identity = BOT_IDENTITY
    keep_logs: int = 200
    cargo_home: Path | None = Field(default=None, description="the cargo home whose caches and config.toml builds read; default: $CARGO_HOME, else ~/.cargo")

    @property
    def sandwich_dir(self) -> Path:
        return self.sandwiches or self.home / "sandwiches"
