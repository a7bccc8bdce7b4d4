"""A saved login's session cookies log the bridge in, so they are secrets the redactor must know."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandbox.redact import redactor

TOKEN_CHARS = 16
"""Cookie values this long are taken for tokens; shorter ones are settings ("dark", "en-US", "accepted")."""


def cookie_values(session: Path | Mapping[str, Any]) -> list[str]:
    """The token-like cookie values of a session: a saved one (its file) or a browser context's storage state."""
    if isinstance(session, Path):
        try:
            state = json.loads(session.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
    else:
        state = session
    cookies = state.get("cookies") if isinstance(state, dict) else None
    values = [str(c.get("value", "")) for c in cookies or [] if isinstance(c, dict)]
    return [v for v in values if len(v) >= TOKEN_CHARS]


def register_login_secrets(session: Path | Mapping[str, Any]) -> None:
    """Mask the login's cookie values (a saved session, or the storage state a renewed page carries over: the site
    may have rotated them since) in every reply and log line from now on."""
    redactor.register(*cookie_values(session))
