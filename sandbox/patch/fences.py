"""Markdown fences in a chat payload, and the file paths that label them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>.*?)\s*$")
_PATH = re.compile(r"^/?[\w.@+\-]+(?:/[\w.@+\-]+)*$")  # ".." and "/" allowed: confinement refuses them loudly
_NAMED = {"Makefile", "Dockerfile", "Justfile", "justfile", "Containerfile", "LICENSE"}
_KEYED = re.compile(r"^(?:path|file|filename|name|title)=(?P<q>[\"']?)(?P<v>.+)(?P=q)$", re.IGNORECASE)
_WRAP = ("**", "__", "`", "*", "_", '"', "'")
_PREFIX = re.compile(
    r"^(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|//+\s*|#\s*|--\s+|/\*\s*|<!--\s*|;+\s*|(?:file(?:name)?|path)\s*:\s*)", re.IGNORECASE
)
_SUFFIX = re.compile(r"(?:\s*\*/|\s*-->|:)$")

# The file extensions a fence language may write; a language missing here writes only its own name.
_LANG_EXTS: dict[str, set[str]] = {
    "rust": {"rs"},
    "python": {"py", "pyi"},
    "py": {"py", "pyi"},
    "toml": {"toml", "lock"},
    "yaml": {"yaml", "yml"},
    "yml": {"yaml", "yml"},
    "markdown": {"md"},
    "md": {"md"},
    "shell": {"sh"},
    "bash": {"sh"},
    "sh": {"sh"},
    "javascript": {"js", "mjs", "cjs"},
    "typescript": {"ts"},
    "c": {"c", "h"},
    "cpp": {"cpp", "cc", "cxx", "hpp", "h"},
    "text": {"txt"},
    "plaintext": {"txt"},
    "txt": {"txt"},
}


@dataclass(frozen=True)
class Block:
    """A fenced code block: its info string, its content lines, and the non-blank line just before it."""

    start: int
    info: str
    lines: tuple[str, ...]
    label: str | None

    @property
    def language(self) -> str:
        first = self.info.split()[0] if self.info.split() else ""
        lang = first.split(":", 1)[0]
        return "" if path_like(lang) or "=" in lang else lang.casefold()

    @property
    def label_file(self) -> str | None:
        """The path written on the line before the fence."""
        return label_path(self.label) if self.label is not None else None

    @property
    def path(self) -> str | None:
        """The path the fence names, from its info string or from the line before it."""
        return info_path(self.info) or self.label_file


@dataclass(frozen=True)
class Prose:
    """Text outside any fence."""

    start: int
    lines: tuple[str, ...]


class _Hunks:
    """Tracks diff hunks while scanning: inside one, a line like " ```" is a context line, not a fence."""

    def __init__(self) -> None:
        self.inside = False

    def hides(self, line: str) -> bool:
        """Whether `line` is a hunk line (and so no fence); updates the state."""
        if self.inside and (line == "" or line[0] in " +-\\"):
            return True
        self.inside = line.startswith("@@")
        return False


def segments(lines: list[str]) -> list[Block | Prose]:
    """Split lines into fenced blocks and the prose between them; an unclosed fence runs to the end."""
    out: list[Block | Prose] = []
    prose_start = 0
    i = 0
    hunks = _Hunks()
    while i < len(lines):
        m = None if hunks.hides(lines[i]) else _OPEN.match(lines[i])
        if m is None or (m["fence"][0] == "`" and "`" in m["info"]):
            i += 1
            continue
        if prose_start < i:
            out.append(Prose(prose_start, tuple(lines[prose_start:i])))
        end = _closing(lines, i + 1, m["fence"])
        out.append(Block(i, m["info"], tuple(lines[i + 1 : end]), _label_before(lines, i)))
        i = prose_start = end + 1
        hunks = _Hunks()
    if prose_start < len(lines):
        out.append(Prose(prose_start, tuple(lines[prose_start:])))
    return out


def _closing(lines: list[str], start: int, fence: str) -> int:
    """The index of the line that closes `fence`, or len(lines)."""
    close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    hunks = _Hunks()
    for j in range(start, len(lines)):
        if not hunks.hides(lines[j]) and close.match(lines[j]):
            return j
    return len(lines)


def _label_before(lines: list[str], i: int) -> str | None:
    """The nearest non-blank line before line i, looking back past at most one blank line."""
    for j in (i - 1, i - 2):
        if j >= 0 and lines[j].strip():
            return lines[j]
    return None


def path_like(text: str) -> bool:
    if not text or len(text) > 255 or not _PATH.match(text):
        return False
    name = text.rsplit("/", 1)[-1]
    return "/" in text or name in _NAMED or re.search(r"\.[A-Za-z0-9_+\-]+$", name) is not None


def label_path(line: str) -> str | None:
    """A path written alone on a line: `src/lib.rs:`, `**src/lib.rs**`, `// File: src/lib.rs`, `### src/lib.rs`."""
    text = line.strip()
    while True:
        before = text
        text = _SUFFIX.sub("", _PREFIX.sub("", text)).strip()
        for mark in _WRAP:
            if len(text) > 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
                text = text[len(mark) : -len(mark)].strip()
        if text == before:
            break
    return text if path_like(text) else None


def info_path(info: str) -> str | None:
    """A path in a fence's info string: ```` ```rust src/lib.rs ````, ```` ```src/lib.rs ````, `rust:src/lib.rs`, `path=…`."""
    for token in info.split():
        keyed = _KEYED.match(token)
        if keyed:
            token = keyed["v"]
        elif ":" in token:
            token = token.split(":", 1)[1]
        if path_like(token):
            return token
    return None


def comment_path(line: str) -> str | None:
    """A path named by a comment on a block's first line: `// src/lib.rs`, `# File: app.py`, `<!-- a.md -->`."""
    if not re.match(r"^\s*(?://|#|--|/\*|<!--|;)", line):
        return None
    return label_path(line)


def writes(language: str, path: str) -> bool:
    """Whether a block in this fence language can plausibly be the file at `path`."""
    name = path.rsplit("/", 1)[-1]
    if not language or "." not in name.strip("."):
        return True
    ext = name.rsplit(".", 1)[-1].casefold()
    return ext == language or ext in _LANG_EXTS.get(language, set())
