"""Loguru set-up in the author's style: `[2026-04-20 14:28:00.123] #INFO: message`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from loguru import logger

from sandbox.redact import redact

TAGS = {"TRACE": "#DEBUG", "DEBUG": "#DEBUG", "INFO": "#INFO", "SUCCESS": "#INFO", "WARNING": "#WARN", "ERROR": "#ERROR", "CRITICAL": "#ERROR"}
FORMAT = "[{time:YYYY-MM-DD HH:mm:ss.SSS}] {extra[tag]}: {message}"


def _patch(record: Any) -> None:
    record["extra"]["tag"] = TAGS.get(record["level"].name, "#INFO")
    record["message"] = redact(record["message"])


def setup_logging(level: str = "INFO", log_file: Path | None = None) -> None:
    """Send tagged, redacted log lines to stderr and optionally to a file."""
    logger.remove()
    logger.configure(patcher=_patch)
    logger.add(sys.stderr, level=level.upper(), format=FORMAT, backtrace=False, diagnose=False)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        logger.add(log_file, level="DEBUG", format=FORMAT, backtrace=False, diagnose=False, rotation="20 MB", retention=5)
