"""Project file paths named in a text, such as a build summary's `src/lib.rs:12:5`."""

from __future__ import annotations

import re

SEPARATORS = re.compile(r"[^\w./-]+")
PATH = re.compile(r"(?:[\w-][\w.-]*/)*[\w-][\w.-]*\.(?:rs|toml|md|json|ya?ml|txt|py)")
MAX_TOKEN = 300


def paths_in(text: str) -> list[str]:
    """Distinct relative paths in order of first mention (no absolute paths, no `..`)."""
    seen: dict[str, None] = {}
    for token in SEPARATORS.split(text):
        token = token.removeprefix("./").rstrip(".")
        if not token or len(token) > MAX_TOKEN or token.startswith("/") or ".." in token.split("/"):
            continue
        if PATH.fullmatch(token):
            seen.setdefault(token, None)
    return list(seen)
