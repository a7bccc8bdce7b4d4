"""What chat UIs and LLMs do to an edit on its way to the bridge, shared by the applier's tests and its benchmark.

A `Change` (one file's real before and after text, with its unified diff) is rendered the ways
assistants post edits: the diff damaged in one way (`DIFF_KINDS`), or the edit carried another
way (`FILE_KINDS`: whole files under labels, tags and comments, nested fences, SEARCH/REPLACE,
excerpts). Each `Rendering` says whether its text allows exactly one reading (`one_reading`):
where it does, the applier must give the exact `after`; where not, it must refuse.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
FENCE_LINE = re.compile(r"^ {0,3}(?:```|~~~)")
LANGS = {".rs": "rust", ".toml": "toml", ".md": "markdown", ".py": "python", ".yml": "yaml", ".yaml": "yaml", ".sh": "sh", ".json": "json"}
COMMENTS = {".rs": "// {}", ".toml": "# {}", ".py": "# {}", ".yml": "# {}", ".yaml": "# {}", ".sh": "# {}", ".md": "<!-- {} -->"}
NBSP = "\u00a0"
PLACEHOLDERS = ("... rest unchanged ...", "(unchanged)", "existing code here", "keep the original implementation")


@dataclass(frozen=True)
class Change:
    """One file's real change: its path, texts before and after, the unified diff (a/ b/ headers), the project's paths."""

    path: str
    before: str
    after: str
    diff: str
    tree: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rendering:
    """A posted edit: the payload, the file's text before and the one right after, and whether one reading exists.

    `decoys` are other files of the project the tree must hold for the rendering to mean what it says.
    `literal` is what the text says where a damage lost what the file should get (spaces written for
    tabs in a file that shows no tabs to map them to): writing it is no damage, though not exact.
    """

    payload: str
    before: str
    after: str
    one_reading: bool
    decoys: tuple[str, ...] = ()
    literal: str | None = None

    def right(self, result: str) -> bool:
        """Whether `result` is a right outcome of applying the payload (the exact tree, or where no reading is
        exact, the literal one)."""
        return result == self.after or (not self.one_reading and result == self.literal)


# diffs -------------------------------------------------------------------------------------------------
def split_diff(diff: str) -> tuple[list[str], list[list[str]]]:
    """The file header lines and the hunks (each its `@@` line and body)."""
    head: list[str] = []
    hunks: list[list[str]] = []
    for line in diff.rstrip("\n").split("\n"):
        if HEADER.match(line):
            hunks.append([line])
        elif hunks:
            hunks[-1].append(line)
        else:
            head.append(line)
    return head, hunks


def join_diff(head: list[str], hunks: Sequence[list[str]]) -> str:
    return "\n".join(head + [line for hunk in hunks for line in hunk]) + "\n"


def old_block(hunk: list[str]) -> list[str]:
    return [line[1:] for line in hunk[1:] if line[:1] in (" ", "-")]


def hunk_start(hunk: list[str]) -> int:
    m = HEADER.match(hunk[0])
    assert m is not None
    return max(int(m[1]) - 1, 0) if m[2] != "0" else int(m[1])


def occurrences(lines: Sequence[str], block: Sequence[str], key: Callable[[str], str] = str) -> list[int]:
    keys, want = [key(t) for t in lines], [key(t) for t in block]
    n = len(want)
    return [p for p in range(len(keys) - n + 1) if keys[p : p + n] == want] if n else []


def loose(line: str) -> str:
    return " ".join(line.split())


def placed_in_order(text: str, blocks: Sequence[tuple[list[str], int]], key: Callable[[str], str] = str) -> bool:
    """Whether each block (old lines, true start) is found once, or once after the previous one: the in-order reading."""
    lines = text.split("\n")
    lo = 0
    for block, start in blocks:
        found = occurrences(lines, block, key)
        if start not in found or not (len(found) == 1 or [p for p in found if p >= lo] == [start]):
            return False
        lo = start + len(block)
    return True


def _headers(diff: str, make: Callable[[int, re.Match[str]], str]) -> str:
    counter = iter(range(1_000_000))
    return re.sub(r"(?m)^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$", lambda m: make(next(counter), m), diff)


def wrong_numbers(diff: str) -> str:
    """Every hunk's line numbers off by a different amount, up to 11 lines either way (an LLM counting lines)."""

    def shifted(k: int, m: re.Match[str]) -> str:
        off = (k * 37) % 23 - 11
        return f"@@ -{max(1, int(m[1]) + off)},{m[2] or 1} +{max(1, int(m[3]) + off)},{m[4] or 1} @@{m[5]}"

    return _headers(diff, shifted)


def wrong_counts(diff: str) -> str:
    return _headers(diff, lambda k, m: f"@@ -{m[1]},{int(m[2] or 1) + 2} +{m[3]},{max(0, int(m[4] or 1) - 1)} @@{m[5]}")


def no_numbers(diff: str) -> str:
    return _headers(diff, lambda k, m: "@@")


def blank_context_stripped(diff: str) -> str:
    return re.sub(r"(?m)^ $", "", diff)


def trailing_spaces_stripped(diff: str) -> str:
    return re.sub(r"(?m)^( .*?)[ \t]+$", r"\1", diff)


def crlf(diff: str) -> str:
    return diff.replace("\n", "\r\n")


def fenced_with_prose(diff: str) -> str:
    """In a fence with prose around it, and without its final newline (as a DOM code block gives it)."""
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", diff)), default=0))
    return f"Here is the fix for the issue:\n\n{fence}diff\n{diff.rstrip(chr(10))}\n{fence}\n\nThis keeps the behaviour otherwise."


def tabs_to_spaces(diff: str) -> str:
    """A markdown renderer's habit: a tab that follows leading spaces becomes four spaces."""
    out = []
    for line in diff.split("\n"):
        while (m := re.match(r"^( +)\t", line)) is not None:
            line = m[1] + "    " + line[m.end() :]
        out.append(line)
    return "\n".join(out)


def nbsp_indented(diff: str) -> str:
    """Copied from a web page: the hunk lines' leading spaces are U+00A0 no-break spaces."""
    out = []
    for line in diff.split("\n"):
        if line[:1] in (" ", "+", "-") and not line.startswith(("---", "+++")):
            body = line[1:]
            indent = len(body) - len(body.lstrip(" "))
            line = line[0] + NBSP * indent + body[indent:]
        out.append(line)
    return "\n".join(out)


def spaces_for_tabs(diff: str) -> str:
    """An LLM writing a tab-indented file's diff with four spaces for every tab."""
    return diff.replace("\t", "    ")


def everything(diff: str) -> str:
    return crlf(fenced_with_prose(trailing_spaces_stripped(blank_context_stripped(no_numbers(diff)))))


def _simple(damage: Callable[[str], str], oracle: str = "numbers") -> Callable[[Change], Rendering | None]:
    """A damage of the diff text; `oracle` says what places the hunks: their line numbers ("numbers"), only their
    text ("text", "loose" for whitespace-folded text), or line numbers in a file indented with tabs alone ("tabs")."""

    def render(change: Change) -> Rendering | None:
        payload = damage(change.diff)
        if payload == change.diff and damage is not _same:
            return None
        _, hunks = split_diff(change.diff)
        if oracle == "numbers":
            one = True
        elif oracle == "tabs":
            one = _tabs_only(change)
            return Rendering(payload, change.before, change.after, one, literal=_added_as(change, damage))
        else:
            key = loose if oracle == "loose" else str
            one = placed_in_order(change.before, [(old_block(h), hunk_start(h)) for h in hunks], key)
        return Rendering(payload, change.before, change.after, one)

    return render


def _same(diff: str) -> str:
    return diff


def _added_as(change: Change, damage: Callable[[str], str]) -> str:
    """The new text with the diff's added lines as `damage` left them."""
    lines = change.after.split("\n")
    _, hunks = split_diff(change.diff)
    for hunk in hunks:
        m = HEADER.match(hunk[0])
        assert m is not None
        at = int(m[3]) - 1 if m[4] != "0" else int(m[3])
        for line in hunk[1:]:
            if line[:1] == "+":
                lines[at] = damage(line)[1:]
            if line[:1] in (" ", "+"):
                at += 1
    return "\n".join(lines)


def _tabs_only(change: Change) -> bool:
    """Whether spaces for tabs read one way: the file is indented with tabs alone, every hunk has a tab-indented
    old line to show the mapping, and added lines have tabs only in their indentation."""
    indents = [t[: len(t) - len(t.lstrip(" \t"))] for t in change.before.split("\n") if t.strip()]
    added = [t[1:] for t in change.diff.split("\n") if t.startswith("+") and not t.startswith("+++")]
    _, hunks = split_diff(change.diff)
    shown = all(any(t.startswith("\t") for t in old_block(h)) for h in hunks)
    pure = any(indents) and all(not i or i.startswith("\t") and " " not in i for i in indents)
    return shown and pure and all("\t" not in t.lstrip("\t") for t in added)


def _out_of_order(change: Change) -> Rendering | None:
    head, hunks = split_diff(change.diff)
    if len(hunks) < 2:
        return None
    return Rendering(join_diff(head, hunks[::-1]), change.before, change.after, True)


def _anchor(change: Change) -> Rendering | None:
    """An inert hunk (the file's first lines as context) put before the real ones."""
    head, hunks = split_diff(change.diff)
    first = change.before.split("\n")[:3]
    if len(first) < 3 or not hunks or hunk_start(hunks[0]) < 3:
        return None
    anchor = ["@@ -1,3 +1,3 @@", *(" " + t for t in first)]
    return Rendering(join_diff(head, [anchor, *hunks]), change.before, change.after, True)


def _elided(change: Change) -> Rendering | None:
    """Posted without a fence, one hunk's middle context lines left out with a bare `...` line."""
    head, hunks = split_diff(change.diff)
    lines = change.before.split("\n")
    for k, hunk in enumerate(hunks):
        body = hunk[1:]
        for i in range(1, len(body)):
            j = i
            while j < len(body) and body[j][:1] == " ":
                j += 1
            if j - i >= 4 and any(t[:1] in "+-" for t in body[:i]) and any(t[:1] in "+-" for t in body[j:]):
                first = [hunk[0], *body[: i + 1]]
                second = body[j - 1 :]
                start = hunk_start(hunk)
                one = placed_in_order(change.before, [(old_block(first), start)]) and _second_part_once(lines, first, second, start)
                elided = [*hunks[:k], [hunk[0], *body[: i + 1], "...", *second], *hunks[k + 1 :]]
                payload = f"Here is the change:\n\n{join_diff(head, elided)}\nThat is all."
                return Rendering(payload, change.before, change.after, one)
    return None


def _second_part_once(lines: list[str], first: list[str], second: list[str], start: int) -> bool:
    block = [t[1:] for t in second if t[:1] in (" ", "-")]
    found = occurrences(lines, block)
    end = start + len(old_block(first))
    after = [p for p in found if p >= end]
    return len(found) == 1 or len(after) == 1


DIFF_KINDS: dict[str, Callable[[Change], Rendering | None]] = {
    "clean": _simple(_same),
    "wrong line numbers": _simple(wrong_numbers, "text"),
    "no line numbers": _simple(no_numbers, "text"),
    "wrong counts": _simple(wrong_counts),
    "blank context stripped": _simple(blank_context_stripped),
    "trailing spaces stripped": _simple(trailing_spaces_stripped),
    "CRLF": _simple(crlf),
    "fenced with prose": _simple(fenced_with_prose),
    "tabs to spaces": _simple(tabs_to_spaces),
    "no-break spaces": _simple(nbsp_indented),
    "spaces for tabs": _simple(spaces_for_tabs, "tabs"),
    "all at once": _simple(everything, "loose"),
    "hunks out of order": _out_of_order,
    "context-only anchor hunk": _anchor,
    "elided unfenced diff": _elided,
}


# other carriers ------------------------------------------------------------------------------------------
def _suffix(path: str) -> str:
    return PurePosixPath(path).suffix.casefold()


def _fits_a_whole_file(change: Change) -> bool:
    """Whether a fenced whole file can say it: same final newline and line endings, no trailing blank lines
    (a code block's text ends at its last line), no fence-like lines, text at all."""
    before, after = change.before, change.after
    return (
        bool(after.strip())
        and not after.endswith("\n\n")
        and before.endswith("\n") == after.endswith("\n")
        and ("\r\n" in before) == ("\r\n" in after)
        and not any(FENCE_LINE.match(t) for t in after.split("\n"))
    )


def _reads_as_whole(before: str, after: str) -> bool:
    """False where a "whole file" keeps less than half of a long file's lines: it reads as an excerpt as well
    as a rewrite, and only a tag that declares a replacement (`<code_file>`) says which."""
    had = Counter(k for k in map(loose, before.split("\n")) if k)
    kept = sum((had & Counter(k for k in map(loose, after.split("\n")) if k)).values())
    return sum(had.values()) < 20 or kept >= 0.5 * sum(had.values())


def _block(text: str, lang: str, fence: str = "```") -> str:
    return f"{fence}{lang}\n{text.rstrip(chr(10))}\n{fence}"


def _labelled(form: str) -> Callable[[Change], Rendering | None]:
    def render(change: Change) -> Rendering | None:
        if not _fits_a_whole_file(change):
            return None
        label = form.format(path=change.path)
        payload = f"{label}\n\n{_block(change.after, LANGS.get(_suffix(change.path), ''))}\n\nLet me know if the build fails."
        return Rendering(payload, change.before, change.after, _reads_as_whole(change.before, change.after))

    return render


def _code_file_tag(change: Change) -> Rendering | None:
    """The seed author's dialect: the tag right after `@agent`; a file that holds such tags itself has no one reading."""
    if not _fits_a_whole_file(change):
        return None
    payload = f'@agent <code_file name="{change.path}">\n{change.after.rstrip(chr(10))}\n</code_file>'
    return Rendering(payload, change.before, change.after, not re.search(r"</?code_(?:file|patch)", change.after, re.IGNORECASE))


def _comment_names(bare: bool) -> Callable[[Change], Rendering | None]:
    """No label: the block's first line is a comment naming the file (its path, or only its file name)."""

    def render(change: Change) -> Rendering | None:
        comment = COMMENTS.get(_suffix(change.path))
        if comment is None or not _fits_a_whole_file(change):
            return None
        name = PurePosixPath(change.path).name if bare else change.path
        first = comment.format(name)
        if change.before.split("\n", 1)[0] == first:
            return None
        decoys = tuple(p for p in change.tree if p != change.path and PurePosixPath(p).name == name) if bare else ()
        payload = f"Here you go:\n{_block(first + chr(10) + change.after, LANGS.get(_suffix(change.path), ''))}"
        return Rendering(payload, change.before, change.after, not decoys and _reads_as_whole(change.before, change.after), decoys)

    return render


def _own_comment(change: Change) -> Rendering | None:
    """A file whose own first line is a comment with its file name, posted under a prose label."""
    comment = COMMENTS.get(_suffix(change.path))
    if comment is None or not _fits_a_whole_file(change):
        return None
    first = comment.format(PurePosixPath(change.path).name) + "\n"
    before, after = first + change.before, first + change.after
    payload = f"Updated `{change.path}`:\n{_block(after, LANGS.get(_suffix(change.path), ''))}"
    return Rendering(payload, before, after, _reads_as_whole(before, after))


def _nested(change: Change) -> Rendering | None:
    """A Markdown file with fences of its own, in a fence the writer did not lengthen."""
    after = change.after
    fences = [t for t in after.split("\n") if FENCE_LINE.match(t)]
    if _suffix(change.path) != ".md" or not fences or change.before.endswith("\n") != after.endswith("\n"):
        return None
    # one reading: the file's own blocks each open with an info string and close with a bare fence line
    paired = len(fences) % 2 == 0 and all(bool(t.strip().strip("`~")) == (k % 2 == 0) for k, t in enumerate(fences))
    one = paired and _reads_as_whole(change.before, after)
    payload = f"{change.path}\n{_block(after, 'markdown')}\n"
    return Rendering(payload, change.before, after, one)


def _search_replace(change: Change) -> Rendering | None:
    """Each hunk as a SEARCH/REPLACE block, under the file's label; blocks apply one after another."""
    _, hunks = split_diff(change.diff)
    if not hunks or "\r" in change.before or change.before.endswith("\n") != change.after.endswith("\n"):
        return None
    blocks = []
    text = change.before.split("\n")
    one = True
    for hunk in hunks:
        old = old_block(hunk)
        new = [t[1:] for t in hunk[1:] if t[:1] in (" ", "+")]
        if not old or any(re.match(r"^\s*(?:={5,9}|<{5,9}|>{5,9})", t) for t in old + new):
            return None
        found = occurrences(text, old)
        one = one and len(found) == 1
        if found:
            text = text[: found[0]] + new + text[found[0] + len(old) :]
        blocks.append("\n".join(["<<<<<<< SEARCH", *old, "=======", *new, ">>>>>>> REPLACE"]))
    lang = LANGS.get(_suffix(change.path), "")
    payload = f"{change.path}\n" + "\n".join(_block(b, lang, "````") for b in blocks)
    return Rendering(payload, change.before, change.after, one)


def _excerpt(with_definition: bool) -> Callable[[Change], Rendering | None]:
    """A "whole file" where a placeholder comment stands for unchanged code (a definition, or lines of one)."""

    def render(change: Change) -> Rendering | None:
        comment = COMMENTS.get(_suffix(change.path))
        if comment is None or not _fits_a_whole_file(change):
            return None
        lines = change.after.split("\n")
        old = set(change.before.split("\n"))
        run = _unchanged_code_run(lines, old, with_definition)
        if run is None:
            return None
        first, last = run
        indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        placeholder = indent + comment.format(PLACEHOLDERS[(first + last) % len(PLACEHOLDERS)])
        excerpt = "\n".join(lines[:first] + [placeholder] + lines[last:])
        payload = f"Updated `{change.path}`:\n{_block(excerpt, LANGS.get(_suffix(change.path), ''))}"
        return Rendering(payload, change.before, change.after, False)

    return render


COMMENT_LINE = re.compile(r"^\s*(?://|#(?![\[!])|/\*|\*|<!--)")
DEFINITION = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:fn|struct|enum|trait|impl|mod|const|static|type)\b")


def _unchanged_code_run(lines: list[str], old: set[str], with_definition: bool) -> tuple[int, int] | None:
    """Lines [first, last) of the new text, unchanged, with two code lines (not comments) at least and an unchanged line on each side."""
    k = 1
    while k < len(lines) - 1:
        j = k
        while j < len(lines) - 1 and lines[j] in old and lines[j].strip():
            j += 1
        if j - k >= 3 and lines[k - 1] in old and lines[j] in old:
            has_definition = any(DEFINITION.match(t) for t in lines[k:j])
            code = [t for t in lines[k:j] if re.search(r"\w", t) and not COMMENT_LINE.match(t)]
            if has_definition == with_definition and len(code) >= 2:
                return k, j
        k = j + 1
    return None


FILE_KINDS: dict[str, Callable[[Change], Rendering | None]] = {
    "label: Updated `path`:": _labelled("Updated `{path}`:"),
    "label: Here is the full `path`:": _labelled("Here is the full `{path}`:"),
    "label: File: path": _labelled("File: {path}"),
    "label: **path**": _labelled("**{path}**"),
    "@agent <code_file name=…>": _code_file_tag,
    "first-line comment: path": _comment_names(bare=False),
    "first-line comment: file name": _comment_names(bare=True),
    "label + the file's own comment": _own_comment,
    "nested fences (Markdown)": _nested,
    "SEARCH/REPLACE": _search_replace,
    "excerpt: a definition elided": _excerpt(with_definition=True),
    "excerpt: lines elided": _excerpt(with_definition=False),
}
KINDS = {**DIFF_KINDS, **FILE_KINDS}


def git_diff(path: str, before: str, after: str, work: Path) -> str:
    """The change as `git diff` writes it (a/ b/ prefixes, 3 lines of context, function headings), made in `work`."""
    for side, text in (("a", before), ("b", after)):
        target = work / side / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    run = subprocess.run(
        ["git", "diff", "--no-index", "--no-color", "--no-ext-diff", "--no-prefix", "-U3", f"a/{path}", f"b/{path}"],
        cwd=work,
        capture_output=True,
    )
    shutil.rmtree(work / "a")
    shutil.rmtree(work / "b")
    return run.stdout.decode("utf-8")
