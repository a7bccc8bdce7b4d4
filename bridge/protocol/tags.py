"""Hashtags a message carries outside code, such as `#critics_allowed` (the tag of the author's later platform)."""

from __future__ import annotations

import re

from sandbox.markdown import Kind, scan

CRITICS_ALLOWED = "critics_allowed"
"""While the developer's latest message carries it, the critic reviews each patch that lands."""
CODE_SPAN = re.compile(r"(`+).*?\1")


def carries(text: str, tag: str) -> bool:
    """Whether `#tag` (any case) is written in the text outside fenced code and inline code spans."""
    pattern = re.compile(rf"(?<![\w#])#{re.escape(tag)}(?![\w-])", re.IGNORECASE)
    if not pattern.search(text):
        return False
    layout = scan(text, indented=True)
    return any(
        kind == Kind.PLAIN and pattern.search(CODE_SPAN.sub("", line)) for line, kind in zip(layout.lines, layout.kinds, strict=True)
    )
