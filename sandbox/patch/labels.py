"""File paths as chat payloads name them: labels before a fence, info strings, first-line comments.

A label is the non-blank line just before a fence. It names a file when it is a path alone
(`src/lib.rs:`, `**src/lib.rs**`, `### src/lib.rs`, `File: src/lib.rs`, `// src/lib.rs`), or when
it is a sentence that ends with a colon and names exactly one path, marked as code or bold or
written just before the colon (``Updated `src/x.rs`:``, ``Here is the full `src/x.rs`:``).
A path marked as code, bold or quoted, or written after `File:`/`Path:`, may hold spaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_PATH = re.compile(r"^/?[\w.@+\-]+(?:/[\w.@+\-]+)*$")  # ".." and "/" allowed: confinement refuses them loudly
_SPACED_PATH = re.compile(r"^/?[\w.@+\-]+(?: [\w.@+\-]+)*(?:/[\w.@+\-]+(?: [\w.@+\-]+)*)*$")
_NAMED = {"Makefile", "Dockerfile", "Justfile", "justfile", "Containerfile", "LICENSE"}
_KEYED = re.compile(r"^(?:path|file|filename|name|title)=(?P<q>[\"']?)(?P<v>.+)(?P=q)$", re.IGNORECASE)
_WRAP = ("**", "__", "`", "*", "_", '"', "'")
_PREFIX = re.compile(r"^(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|//+\s*|#\s*|--\s+|/\*\s*|<!--\s*|;+\s*)")
_KEY_PREFIX = re.compile(r"^(?:file(?:name)?|path)\s*:\s*", re.IGNORECASE)
_SUFFIX = re.compile(r"(?:\s*\*/|\s*-->|:)$")
_MARKED = re.compile(r"`([^`\n]+)`|\*\*([^*\n]+)\*\*|__([^_\n]+)__")
_COMMENT = re.compile(r"^\s*(?://|#(?![\[!])|--|/\*|<!--|;)")

# The file extensions a fence language may write; a language missing here writes only its own name.
_LANG_EXTS: dict[str, set[str]] = {
    "rust": {"rs"},
    "python": {"py", "pyi"},
    "py": {"py", "pyi"},
    "toml": {"toml", "lock"},
    "yaml": {"yaml", "yml"},
    "yml": {"yaml", "yml"},
    "markdown": {"md", "markdown", "mdx"},
    "md": {"md", "markdown", "mdx"},
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


_KNOWN_EXTS = {ext for exts in _LANG_EXTS.values() for ext in exts} | {
    "json", "rst", "adoc", "html", "css", "go", "java", "kt", "rb", "ini", "cfg", "conf", "env", "sql", "proto", "xml", "csv",
}


def path_like(text: str, spaced: bool = False) -> bool:
    """Whether `text` reads as a file path: a folder part, a known file name or an extension."""
    if not text or len(text) > 255 or not (_SPACED_PATH if spaced else _PATH).match(text):
        return False
    name = text.rsplit("/", 1)[-1]
    return "/" in text or name in _NAMED or re.search(r"\.[A-Za-z0-9_+\-]+$", name) is not None


def label_path(line: str) -> str | None:
    """The path a label line names, or None (see the module docstring for the forms)."""
    alone = _alone(line)
    if alone is not None:
        return alone
    return _in_sentence(line)


def _alone(line: str) -> str | None:
    """A path written alone on the line, with markdown and comment decoration around it."""
    text = line.strip()
    spaced = False
    while True:
        before = text
        keyed = _KEY_PREFIX.match(text)
        if keyed:
            text, spaced = text[keyed.end() :], True
        text = _SUFFIX.sub("", _PREFIX.sub("", text)).strip()
        for mark in _WRAP:
            if len(text) > 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
                text, spaced = text[len(mark) : -len(mark)].strip(), True
        if text == before:
            break
    return text if path_like(text, spaced) else None


def _in_sentence(line: str) -> str | None:
    """The one path a sentence ending with a colon names: marked as code or bold, or just before the colon."""
    text = line.strip()
    for mark in ("**", "__"):
        if len(text) > 4 and text.startswith(mark) and text.endswith(mark):
            text = text[2:-2].strip()
    if not text.endswith(":"):
        return None
    text = text[:-1].rstrip()
    found = {path.strip() for m in _MARKED.finditer(text) for path in m.groups() if path is not None and _file_like(path.strip(), True)}
    last = text.rsplit(None, 1)[-1].strip("`*_\"'()") if text else ""
    if not found and _file_like(last, False):
        found = {last}
    return found.pop() if len(found) == 1 else None


def _file_like(text: str, spaced: bool) -> bool:
    """A path in running text: a folder part, a known file name or dotfile, or a known file extension (`x.len` is code)."""
    if not path_like(text, spaced):
        return False
    name = text.rsplit("/", 1)[-1]
    dotfile = name.startswith(".") and name.count(".") == 1
    return "/" in text or name in _NAMED or dotfile or name.rsplit(".", 1)[-1].casefold() in _KNOWN_EXTS


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
    keyed = re.search(r"(?:path|file|filename|name|title)=(?P<q>[\"'])(?P<v>[^\"']+)(?P=q)", info, re.IGNORECASE)
    return keyed["v"] if keyed and path_like(keyed["v"], True) else None


def comment_path(line: str) -> str | None:
    """A path named by a comment on a block's first line: `// src/lib.rs`, `# File: app.py`, `<!-- a.md -->`."""
    return _alone(line) if is_comment(line) else None


def is_comment(line: str) -> bool:
    """Whether a line is a comment in the common line-comment syntaxes (`#[attr]` and `#!` are not)."""
    return _COMMENT.match(line) is not None


_SLASHES = re.compile(r"^\s*(?://|/\*)")
_HASH = re.compile(r"^\s*#(?![\[!])")
_MARKUP = re.compile(r"^\s*<!--")
_DASHES = re.compile(r"^\s*--")
_COMMENTS_BY_EXT: dict[str, re.Pattern[str]] = {
    **dict.fromkeys(("rs", "c", "h", "cc", "cpp", "hpp", "js", "mjs", "ts", "go", "java", "kt", "swift", "scala", "css", "proto"), _SLASHES),
    **dict.fromkeys(("py", "pyi", "sh", "bash", "toml", "yml", "yaml", "rb", "pl", "conf", "cfg", "ini", "env", "gitignore"), _HASH),
    **dict.fromkeys(("md", "markdown", "mdx", "html", "xml", "svg"), _MARKUP),
    **dict.fromkeys(("sql", "lua", "hs"), _DASHES),
}


def comment_test(path: str) -> Callable[[str], bool]:
    """Whether a line is a comment in the language of the file at `path` (any common syntax for an unknown one)."""
    name = path.rsplit("/", 1)[-1]
    found = _COMMENTS_BY_EXT.get(name.rsplit(".", 1)[-1].casefold() if "." in name else "")
    return is_comment if found is None else lambda line: found.match(line) is not None


def language_of(info: str) -> str:
    """A fence's language: the info string's first word, unless that word is a path or a key=value."""
    first = info.split()[0] if info.split() else ""
    lang = first.split(":", 1)[0]
    return "" if path_like(lang) or "=" in lang else lang.casefold()


def writes(language: str, path: str) -> bool:
    """Whether a block in this fence language can plausibly be the file at `path`."""
    name = path.rsplit("/", 1)[-1]
    if not language or "." not in name.strip("."):
        return True
    ext = name.rsplit(".", 1)[-1].casefold()
    return ext == language or ext in _LANG_EXTS.get(language, set())
