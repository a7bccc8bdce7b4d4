"""Text bounded for a chat post, a log line or a prompt: one way to cut, one way to say what was cut."""

from __future__ import annotations

ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """`text` stripped and, when longer than `limit` characters, cut to `limit` with a trailing "…"."""
    text = text.strip()
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def one_line(text: str, limit: int) -> str:
    """`text` with every run of whitespace (newlines included) as one space, clipped to `limit`."""
    return clip(" ".join(text.split()), limit)


def trimmed(text: str, limit: int) -> str:
    """`text` cut at the last line break within `limit` characters, with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit("\n", 1)[0] + f"\n[{ELLIPSIS} {len(text) - limit} more characters trimmed]"
