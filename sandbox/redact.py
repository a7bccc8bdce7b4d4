"""Secret redaction for every chat post and log line."""

from __future__ import annotations

import re
import threading

MASK = "[redacted]"
MIN_SECRET_LEN = 6

# Common token shapes: vendor API keys, bearer tokens, JWTs, cloud keys, cookie-like assignments.
_TOKEN_SHAPES = re.compile(
    r"""
    (?:\b(?:sk|xai|pk|rk)-[A-Za-z0-9_\-]{16,})                 # OpenAI / xAI style keys
    | (?:\bgh[pousr]_[A-Za-z0-9]{30,})                         # GitHub tokens
    | (?:\bAKIA[0-9A-Z]{16}\b)                                 # AWS access key ids
    | (?:\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})  # JWTs
    | (?:(?i:bearer)\s+[A-Za-z0-9._~+/\-]{16,}=*)              # Authorization: Bearer …
    | (?:\b(?i:api[_-]?key|token|secret|password|cookie|session(?:id)?|sso)\s*[=:]\s*["']?[A-Za-z0-9._~+/\-]{12,})
    """,
    re.VERBOSE,
)


class Redactor:
    """Replaces registered secret values and token-shaped strings with a mask."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def register(self, *values: str | None) -> None:
        """Remember secret values (keys, tokens, cookies) so they never leave the process."""
        with self._lock:
            for value in values:
                if value and len(value) >= MIN_SECRET_LEN:
                    self._secrets.add(value)
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None

    def __call__(self, text: str) -> str:
        if not text:
            return text
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return _TOKEN_SHAPES.sub(MASK, text)


redactor = Redactor()
redact = redactor.__call__
