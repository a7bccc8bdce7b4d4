"""Unified diffs as chat UIs deliver them: file sections and hunks, read tolerantly.

Hunk bodies are read greedily (counts in `@@` headers are often wrong): a body runs while its
lines start with ' ', '+', '-', '\\' or are empty (an empty line is a blank context line whose
space was stripped). Trailing empty lines are kept only as far as the header's counts ask for
them. Header line numbers are kept as hints for breaking ties, never trusted for placement.

An elision line inside a body (`...`, `…`, `// ...`: unchanged lines left out) followed by more
hunk lines splits the hunk in two; each part is then placed on its own, so the diff applies
whole or is refused, never only up to the elision.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from sandbox.errors import PatchRefused
from sandbox.patch.edits import DiffEdit, Hunk, Kind, Target

_HUNK = re.compile(r"^@@+\s*-(\d+)(?:,(\d+))?\s+\+(\d+)(?:,(\d+))?\s*@@")
_GIT = re.compile(r"^diff --git (?P<rest>.+)$")
_IGNORED = re.compile(
    r"^(?:index |similarity index|dissimilarity index|Index: |={4,}\s*$|diff |old mode|new mode|RCS file|retrieving revision)"
)
_BINARY = re.compile(r"^(?:GIT binary patch|Binary files .* differ)$")
ELISION = re.compile(r"^\s*(?:(?://+|#+|--|/\*+|<!--|;+)\s*)?(?:\.{3}|…)")
DEV_NULL = "/dev/null"


@dataclass
class _Section:
    old: Target | None
    new: Target | None
    start: int
    git: bool = False
    headers: bool = False
    hunks: list[Hunk] = field(default_factory=list)

    def edit(self) -> DiffEdit:
        return DiffEdit(self.old, self.new, tuple(self.hunks))


def _unquote(name: str) -> str:
    if len(name) >= 2 and name[0] == name[-1] == '"':
        raw = codecs.escape_decode(name[1:-1].encode("utf-8"))[0]
        return raw.decode("utf-8", errors="replace")
    return name


def _header_target(raw: str) -> Target | None:
    """The file a `---`/`+++` line names, without timestamp and a/ b/ prefix; None for /dev/null."""
    name = _unquote(raw.split("\t", 1)[0].strip())
    return None if name == DEV_NULL else Target(_strip_ab(name))


def _git_paths(rest: str) -> tuple[str, str] | None:
    """The two names of `diff --git a/x b/y`; when both are equal the split is unambiguous."""
    rest = rest.strip()
    if rest.startswith('"'):
        m = re.match(r'^("(?:[^"\\]|\\.)*")\s+(.+)$', rest)
        return (_unquote(m[1]), _unquote(m[2])) if m else None
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[: half][2:] == rest[half + 1 :][2:]:
        return rest[:half], rest[half + 1 :]
    m = re.match(r"^(a/\S+)\s+(b/\S+)$", rest)
    return (m[1], m[2]) if m else None


def _strip_ab(name: str) -> str:
    return name[2:] if name[:2] in ("a/", "b/") and len(name) > 2 else name


class _Reader:
    """One pass over a segment's lines; see `parse_diff`."""

    def __init__(self, lines: list[str], default: Target, implicit: bool, tagged: bool) -> None:
        self.lines = lines
        self.default = default
        self.implicit = implicit
        self.tagged = tagged
        self.sections: list[_Section] = []
        self.stray: list[int] = []

    def file_header_at(self, i: int, inside_hunk: bool) -> bool:
        """`--- x` then `+++ y`; inside a hunk body also require a hunk header next, since `--- x` may be a removed line."""
        lines = self.lines
        if self.tagged or i + 1 >= len(lines) or not (lines[i].startswith("--- ") and lines[i + 1].startswith("+++ ")):
            return False
        return not inside_hunk or i + 2 >= len(lines) or lines[i + 2].startswith("@@")

    def boundary(self, i: int) -> bool:
        line = self.lines[i]
        return line.startswith("@@") or (not self.tagged and _GIT.match(line) is not None) or self.file_header_at(i, True)

    def run(self) -> None:
        lines = self.lines
        i = 0
        current: _Section | None = None
        while i < len(lines):
            line = lines[i]
            if _BINARY.match(line):
                raise PatchRefused(f"binary patches are not supported (line {i + 1}: {line[:80]!r})")
            git = None if self.tagged else _GIT.match(line)
            if git:
                current = self.git_section(i, git["rest"])
                i += 1
                while i < len(lines) and self.extended_header(current, lines[i]):
                    i += 1
            elif self.file_header_at(i, False):
                old, new = _header_target(line[4:]), _header_target(lines[i + 1][4:])
                if current is not None and current.git and not current.headers and not current.hunks:
                    current.old, current.new = old, new
                else:
                    current = self.section(i, old, new)
                current.headers = True
                i += 2
            elif line.startswith("@@"):
                current = current or self.section(i, self.default, self.default)
                i = self.hunk(current, i + 1, line)
            elif line and line[0] in "+- " and self.implicit_hunk_ok(current):
                current = current or self.section(i, self.default, self.default)
                i = self.hunk(current, i, None)
            else:
                if line.strip() and not _IGNORED.match(line):
                    self.stray.append(i)
                i += 1

    def implicit_hunk_ok(self, current: _Section | None) -> bool:
        """A body without `@@`: right after file headers, or anywhere in a block known to hold a diff."""
        if current is not None and current.headers and not current.hunks:
            return True
        return self.implicit and (current is None or not current.hunks)

    def section(self, i: int, old: Target | None, new: Target | None) -> _Section:
        section = _Section(old, new, i)
        self.sections.append(section)
        return section

    def git_section(self, i: int, rest: str) -> _Section:
        names = _git_paths(rest)
        if names is None:
            raise PatchRefused(f"cannot read the file names in line {i + 1}: {self.lines[i][:120]!r}")
        section = self.section(i, Target(_strip_ab(names[0])), Target(_strip_ab(names[1])))
        section.git = True
        return section

    def extended_header(self, section: _Section, line: str) -> bool:
        if line.startswith("new file mode"):
            section.old = None
        elif line.startswith("deleted file mode"):
            section.new = None
        elif line.startswith("rename from ") or line.startswith("copy from "):
            section.old = Target(_unquote(line.split(" ", 2)[2]))
        elif line.startswith("rename to ") or line.startswith("copy to "):
            section.new = Target(_unquote(line.split(" ", 2)[2]))
        elif _BINARY.match(line):
            raise PatchRefused(f"binary patches are not supported ({line[:80]!r})")
        else:
            return bool(_IGNORED.match(line))
        return True

    def hunk(self, section: _Section, i: int, header: str | None) -> int:
        """Read one hunk body starting at line i; return the index after it."""
        body: list[str] = []
        lines = self.lines
        while i < len(lines) and not self.boundary(i):
            line = lines[i]
            if line == "" or line[0] in " +-\\":
                body.append(line)
            elif ELISION.match(line) and lines[i + 1 : i + 2] and lines[i + 1][:1] in (" ", "+", "-") and not self.boundary(i + 1):
                if body:
                    section.hunks.append(_make_hunk(header, body))
                header, body = None, []
            elif self.tagged:
                body.append(" " + line)
            else:
                break
            i += 1
        section.hunks.append(_make_hunk(header, body))
        return i


def _make_hunk(header: str | None, body: list[str]) -> Hunk:
    counts = _HUNK.match(header) if header else None
    old_start = int(counts[1]) if counts else None
    body = _trim_blank_tail(body, counts)
    lines: list[tuple[Kind, str]] = []
    old_no_eol = new_no_eol = False
    for line in body:
        if line.startswith("\\"):
            last = lines[-1][0] if lines else " "
            old_no_eol = old_no_eol or last in " -"
            new_no_eol = new_no_eol or last in " +"
            continue
        kind: Kind = line[0] if line else " "  # type: ignore[assignment]
        lines.append((kind, line[1:]))
    return Hunk(tuple(lines), old_start, header or "@@", old_no_eol, new_no_eol)


def _trim_blank_tail(body: list[str], counts: re.Match[str] | None) -> list[str]:
    """Drop trailing empty lines unless the header's counts say they are blank context lines."""
    end = len(body)
    while end and body[end - 1] == "":
        end -= 1
    tail = len(body) - end
    if tail and counts:
        old = sum(1 for line in body[:end] if not line.startswith(("+", "\\")))
        new = sum(1 for line in body[:end] if not line.startswith(("-", "\\")))
        want_old = int(counts[2]) if counts[2] is not None else 1
        want_new = int(counts[4]) if counts[4] is not None else 1
        keep = want_old - old
        if 0 < keep <= tail and want_new - new == keep:
            end += keep
    return body[:end]


def parse_diff(lines: list[str], *, default: Target, implicit: bool, tagged: bool, strict: bool) -> list[tuple[int, DiffEdit]]:
    """File sections of the diffs in `lines`, each with the index of its first line.

    `default` names the file of hunks that come without file headers. `implicit` accepts hunk
    bodies without an `@@` line (a ```diff block). `tagged` reads a `<code_patch>` body: no file
    headers, and a line starting with neither '+', '-' nor ' ' is context. `strict` (a fenced
    diff) refuses lines that are neither headers nor hunk lines instead of skipping them as prose.
    """
    reader = _Reader(lines, default, implicit, tagged)
    reader.run()
    if strict and reader.sections and reader.stray:
        i = reader.stray[0]
        raise PatchRefused(f"line {i + 1} of a diff block is neither a header nor a hunk line: {lines[i][:120]!r}")
    return [(s.start, s.edit()) for s in reader.sections]


def looks_like_diff(lines: list[str]) -> bool:
    """Whether a block holds a diff: a hunk header, a `diff --git` line, or a `---`/`+++` pair."""
    for i, line in enumerate(lines):
        if line.startswith("@@") or _GIT.match(line):
            return True
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            return True
    return False
