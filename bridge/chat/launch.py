"""Which Chromium to launch and how: the system one when present, with root-safe flags."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Playwright

CHROMIUM_ENV = "DEVSPACE_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
QUIET_FLAGS = ["--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path(configured: Path | None = None) -> Path | None:
    """The configured browser, else `DEVSPACE_CHROMIUM`, else one on PATH; None means Playwright's own."""
    if configured is not None:
        return configured
    if os.environ.get(CHROMIUM_ENV):
        return Path(os.environ[CHROMIUM_ENV])
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def launch_args() -> list[str]:
    """Flags for a quiet headless run; `--no-sandbox` only when running as root, where the sandbox cannot start."""
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    return (["--no-sandbox"] if as_root else []) + QUIET_FLAGS


def launch_options(headless: bool = True, chromium: Path | None = None) -> dict[str, Any]:
    """Keyword arguments for `chromium.launch` (also used by the tests' pytest-playwright fixtures)."""
    options: dict[str, Any] = {"headless": headless, "args": launch_args()}
    path = chromium_path(chromium)
    if path is not None:
        options["executable_path"] = str(path)
    return options


async def launch(playwright: Playwright, headless: bool = True, chromium: Path | None = None) -> Browser:
    return await playwright.chromium.launch(**launch_options(headless, chromium))
