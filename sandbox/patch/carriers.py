"""Finding the edit carriers in a chat payload.

Recognised, several per payload: unified diffs (fenced or in prose), SEARCH/REPLACE blocks,
whole files in fenced blocks whose path is named, and the `<code_file>` / `<code_patch>` tags
(opening at the start of a line, or right after `@agent` as the seed author's prompts write them).
A whole file's path comes from the fence's info string, else from the label line before the
fence (see `labels`), else from a path comment on the block's first line (a name read from the
code, which must name an existing file). A whole file in a fence that is never closed (a message
cut short), or whose end the nested reading leaves open in a Markdown file, is refused.
A fenced block that names no file is taken as the whole of `default_path` only when the payload
carries no other edit and exactly one such block fits that file's language.
"""

from __future__ import annotations

import re
from dataclasses import replace

from sandbox.errors import PatchRefused
from sandbox.patch.diffs import looks_like_diff, parse_diff
from sandbox.patch.edits import Edit, Found, ReplaceEdit, Target, WholeFile
from sandbox.patch.fences import Block, Prose, segments
from sandbox.patch.labels import comment_path, info_path, writes
from sandbox.patch.searchreplace import has_blocks, parse_blocks

# A tag opens at the start of a line (or after `@agent`), so one quoted inside a diff line (" <code_file …") is text.
_AT_LINE_START = r"^(?:[ \t]*@agent[ \t]+)?"
_TAG = re.compile(
    _AT_LINE_START + r"<(?P<tag>code_file|code_patch)\b(?P<attrs>[^>\n]*)>(?P<body>.*?)</(?P=tag)\s*>",
    re.DOTALL | re.IGNORECASE | re.MULTILINE,
)
_OPEN_TAG = re.compile(_AT_LINE_START + r"<(code_file|code_patch)\b[^>\n]*>", re.IGNORECASE | re.MULTILINE)
_MARKDOWN = {"md", "markdown", "mdx", "txt", "rst", "adoc"}
_ATTR = re.compile(r"""(?P<key>[\w-]+)\s*=\s*(?:"(?P<d>[^"]*)"|'(?P<s>[^']*)'|(?P<b>[^\s>]+))""")
_DIFF_LANGS = {"diff", "patch", "udiff"}


def normalize(payload: str) -> str:
    """Line endings as LF; a payload copied from a CRLF source reads like any other."""
    return payload.replace("\r\n", "\n")


def find_edits(payload: str, default_path: str | None = None) -> list[Edit]:
    """Every edit in the payload, in payload order; identical repeats count once."""
    found = Found()
    text = _take_tags(normalize(payload), found)
    loose_blocks: list[Block] = []
    for segment in segments(text.split("\n")):
        if isinstance(segment, Prose):
            _prose(segment, found)
        elif not _block(segment, found):
            loose_blocks.append(segment)
    if not found.edits and default_path is not None:
        _default_whole(loose_blocks, default_path, found)
    return _inherit_paths(found.ordered())


def _inherit_paths(edits: list[Edit]) -> list[Edit]:
    """A SEARCH/REPLACE block that names no file edits the file of the block before it (aider's rule)."""
    out: list[Edit] = []
    last: Target | None = None
    for edit in edits:
        if isinstance(edit, ReplaceEdit):
            if edit.target == Target() and last is not None:
                edit = replace(edit, target=last)
            last = edit.target if edit.target != Target() else last
        out.append(edit)
    return out


def carries_edit(payload: str) -> bool:
    """Whether a payload carries an edit of any format this applier reads (a malformed one too: its refusal is the answer).

    A fenced block that names no file counts only where the caller has a default file for it.
    """
    try:
        return bool(find_edits(payload))
    except PatchRefused:
        return True


def _take_tags(text: str, found: Found) -> str:
    """Collect the tag carriers and blank them out (keeping line numbers) for the other readers."""

    def take(m: re.Match[str]) -> str:
        line = text.count("\n", 0, m.start())
        target = _tag_target(m["attrs"], m["tag"])
        _check_tag_end(text, m)
        body = _unwrap(m["body"])
        if m["tag"].lower() == "code_file":
            found.add(line, WholeFile(target, "\n".join(body), carrier="code_file"))
        else:
            for offset, edit in parse_diff(body, default=target, implicit=True, tagged=True, strict=True):
                found.add(line + offset, replace(edit, carrier="code_patch"))
        return "\n" * m.group(0).count("\n")

    rest = _TAG.sub(take, text)
    unclosed = _OPEN_TAG.search(rest)
    if unclosed:
        raise PatchRefused(f"unterminated <{unclosed[1]}> tag: no closing </{unclosed[1]}>")
    return rest


def _check_tag_end(text: str, m: re.Match[str]) -> None:
    """A tag whose text holds its own closing tag could end at either: refused (a file that documents the tags)."""
    following = _OPEN_TAG.search(text, m.end())
    tail = text[m.end() : following.start() if following else len(text)]
    if re.search(rf"</{m['tag']}\s*>", tail, re.IGNORECASE) or _OPEN_TAG.search(m["body"]):
        raise PatchRefused(f"a <{m['tag']}> tag's text holds <{m['tag']}> tags of its own, so where it ends is ambiguous; send a diff")


def _tag_target(attrs: str, tag: str) -> Target:
    values = {m["key"].lower(): next(v for v in (m["d"], m["s"], m["b"]) if v is not None) for m in _ATTR.finditer(attrs)}
    path = values.get("name") or values.get("path") or values.get("file")
    raw_id = values.get("file_id") or values.get("id")
    if raw_id is not None and not raw_id.strip().isdigit():
        raise PatchRefused(f"<{tag}> has a file_id that is not a number: {raw_id!r}")
    if path is None and raw_id is None:
        raise PatchRefused(f"<{tag}> names no file: give name=\"path\" or file_id=\"N\"")
    return Target(path, int(raw_id) if raw_id is not None else None)


def _unwrap(body: str) -> list[str]:
    """A tag's content lines, without the newlines that hug the tags or one fence around everything."""
    if body.startswith("\n"):
        body = body[1:]
    if body.endswith("\n"):
        body = body[:-1]
    lines = body.split("\n")
    parts = segments(lines)
    blocks = [p for p in parts if isinstance(p, Block)]
    outside = [line for p in parts if isinstance(p, Prose) for line in p.lines]
    if len(blocks) == 1 and not any(line.strip() for line in outside):
        return list(blocks[0].lines)
    return lines


def _prose(segment: Prose, found: Found) -> None:
    lines = list(segment.lines)
    if has_blocks(lines):
        for offset, replacement in parse_blocks(lines, None):
            found.add(segment.start + offset, replacement)
        return
    for offset, diff in parse_diff(lines, default=Target(), implicit=False, tagged=False, strict=False):
        found.add(segment.start + offset, diff)


def _block(block: Block, found: Found) -> bool:
    """Read a fenced block; False when it carries no edit by itself."""
    lines = list(block.lines)
    start = block.start + 1
    path = block.path
    if has_blocks(lines):
        for offset, replacement in parse_blocks(lines, path):
            found.add(start + offset, replacement)
        return True
    if not any(line.strip() for line in lines):
        return True
    comment = comment_path(lines[0])
    if block.language in _DIFF_LANGS or looks_like_diff(lines):
        body = lines[1:] if comment is not None else lines
        default = Target(path) if path is not None else Target(comment, from_code=comment is not None)
        for offset, diff in parse_diff(body, default=default, implicit=True, tagged=False, strict=True):
            found.add(start + offset, diff)
        return True
    named = info_path(block.info)
    labelled = named or block.label_file
    target = Target(labelled) if labelled is not None else Target(comment, from_code=True)
    if target.path is None or (named is None and not writes(block.language, target.path)):
        return False
    _check_ends(block, target.path)
    label = lines[0] if comment is not None else None
    label_target = Target(comment, from_code=True) if comment is not None else None
    found.add(block.start, WholeFile(target, "\n".join(lines), label=label, label_target=label_target))
    return True


def _check_ends(block: Block, path: str) -> None:
    """A whole file must end where its fence says, and only there."""
    if block.fence.closer is None:
        raise PatchRefused(f"the block for {path} has no closing fence (the message may be cut short); send it again")
    markdown = path.rsplit(".", 1)[-1].casefold() in _MARKDOWN or block.language in ("markdown", "md")
    if markdown and block.end_ambiguous:
        raise PatchRefused(
            f"the block for {path} holds fences of its own and could end at line {block.fence.closer + 1} of the message or later; "
            "fence the file with a longer fence (````) than any inside it"
        )


def _default_whole(blocks: list[Block], default_path: str, found: Found) -> None:
    """The one fenced block that can be the command's file, when nothing else names a file."""
    fitting = [b for b in blocks if writes(b.language, default_path)]
    if len(fitting) > 1:
        lines = ", ".join(str(b.start + 1) for b in fitting)
        raise PatchRefused(
            f"{len(fitting)} code blocks (at lines {lines}) could each be the new {default_path}; name the file on the one to use"
        )
    if fitting:
        _check_ends(fitting[0], default_path)
        found.add(fitting[0].start, WholeFile(Target(), "\n".join(fitting[0].lines)))
