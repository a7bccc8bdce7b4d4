"""Builds the pieces from settings: executor (local or remote), LLM client, journal, orchestrator."""

from __future__ import annotations

from pathlib import Path

from bridge.config import ConfigError, Settings
from bridge.journal import Journal
from bridge.llm import LLMClient
from bridge.orchestrator import Orchestrator
from sandbox.executor import Executor
from sandbox.local import LocalExecutor


def make_executor(settings: Settings) -> Executor:
    """The remote executor when a sandbox URL is configured, else the in-process one."""
    if settings.sandbox.url:
        from sandbox.client import HttpExecutor

        token = settings.sandbox.token.get_secret_value() if settings.sandbox.token else None
        return HttpExecutor(settings.sandbox.url, token=token)
    if settings.project is None:
        raise ConfigError("config: project: not set (pass --project DIR or set DEVSPACE_PROJECT)")
    return LocalExecutor(Path(settings.project), settings.sandbox_config())


def make_llm(settings: Settings) -> LLMClient | None:
    """API mode when a key is configured; chat mode otherwise."""
    return LLMClient(settings.llm) if settings.llm.api_key is not None else None


def journal_path(settings: Settings) -> Path:
    return settings.home / "journal.db"


def make_orchestrator(settings: Settings, *, dry_run: bool = False) -> Orchestrator:
    return Orchestrator(
        make_executor(settings),
        Journal(journal_path(settings)),
        settings,
        make_llm(settings),
        dry_run=dry_run or settings.chat.dry_run,
    )
