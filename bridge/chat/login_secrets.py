"""A saved login's session cookies log the bridge in, so they are secrets the redactor must know."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.redact import redactor

TOKEN_CHARS = 16
"""Cookie values this long are taken for tokens; shorter ones are settings ("dark", "en-US", "accepted")."""


def cookie_values(path: Path) -> list[str]:
    """The token-like cookie values of a saved session."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    cookies = state.get("cookies") if isinstance(state, dict) else None
    values = [str(c.get("value", "")) for c in cookies or [] if isinstance(c, dict)]
    return [v for v in values if len(v) >= TOKEN_CHARS]


def register_login_secrets(path: Path) -> None:
    """Mask the saved login's cookie values in every reply and log line from now on."""
    redactor.register(*cookie_values(path))
