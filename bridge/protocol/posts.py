"""The bot's posts: addressed by kind, signed so they never run as commands, and bounded in size.

The bot is this program, the chat's third actor; it signs as "MCP", the name the product gives it in the chat.
"""

from __future__ import annotations

import re

from bridge.models import Reply, ReplyKind
from bridge.protocol.markdown import Fence, Layout, opener, scan

SIGNATURE = "— MCP · Colloqium DevSpace"
ADDRESS: dict[ReplyKind, str] = {
    "broadcast": "@all ",
    "escalation": "@dev escalate: ",
    "request": "@assistant ",
    "result": "",
    "error": "",
}
MIN_LIMIT = 400
MAX_PARTS = 10
TAIL = 400


REF = re.compile(r"\bref:([0-9a-z]{4,16}(?:-\d+)?) " + re.escape(SIGNATURE) + "$")


def _last_line(text: str) -> str:
    return " ".join(text[-TAIL:].rstrip().rsplit("\n", 1)[-1].split())


def is_bot_post(text: str) -> bool:
    """Whether a message (as markdown or as rendered innerText) ends with the bot's signature."""
    return _last_line(text).endswith(SIGNATURE)


def post_ref(text: str) -> str | None:
    """The reference a signed post carries (`ref:abc123 — MCP …`), which survives markdown rendering."""
    found = REF.search(_last_line(text))
    return found.group(1) if found else None


def sign(text: str, part: tuple[int, int] | None = None, ref: str | None = None) -> str:
    """The text with any open code fence closed and the signature (and "(part i/n)", "ref:…") as its last line."""
    return _closed(text) + _footer(part, ref)


def format_post(reply: Reply, limit: int = 8000, max_parts: int = MAX_PARTS, ref: str | None = None) -> list[str]:
    """The chat posts for a reply: one when it fits, else up to `max_parts` fence-balanced parts, each ≤ limit.

    With `ref`, each post carries it in its signature line (parts as `ref-i`), so a post can be
    recognised when read back from the chat whatever the renderer did to the rest.
    """
    _check(limit)
    body = _addressed(reply)
    whole = sign(body, ref=ref)
    if len(whole) <= limit:
        return [whole]
    worst = (max_parts, max_parts)
    chunks = _chunks(body, limit - len(_footer(worst, f"{ref}-{max_parts}" if ref else None)), max_parts)
    if len(chunks) == 1:
        return [sign(chunks[0], ref=ref)]
    return [sign(chunk, (i, len(chunks)), f"{ref}-{i}" if ref else None) for i, chunk in enumerate(chunks, 1)]


def trim_note(lines: int) -> str:
    return f"[… {lines} more lines trimmed; full text in the log]"


def _check(limit: int) -> None:
    if limit < MIN_LIMIT:
        raise ValueError(f"a post limit below {MIN_LIMIT} characters cannot hold a part and its signature")


def _footer(part: tuple[int, int] | None, ref: str | None = None) -> str:
    label = f"(part {part[0]}/{part[1]}) " if part else ""
    tag = f"ref:{ref} " if ref else ""
    return f"\n\n{label}{tag}{SIGNATURE}"


def _addressed(reply: Reply) -> str:
    prefix = ADDRESS[reply.kind]
    if prefix and opener(reply.text.split("\n", 1)[0], strict=True):
        return prefix.rstrip() + "\n" + reply.text
    return prefix + reply.text


def _closed(text: str) -> str:
    layout = scan(text, strict=True)
    last = layout.fences[-1] if layout.fences else None
    return text if last is None or last.closer is not None else f"{text}\n{_closer(last)}"


def _closer(fence: Fence) -> str:
    return fence.opener.char * fence.opener.length


def _clip(line: str, width: int) -> str:
    """A line cut to `width` characters with a note, when longer."""
    if len(line) <= width:
        return line
    keep = width - len(f" [… {len(line)} more characters trimmed]")
    return f"{line[:keep]} [… {len(line) - keep} more characters trimmed]"


def _chunks(text: str, budget: int, max_chunks: int) -> list[str]:
    """Cut text into at most `max_chunks` fence-balanced chunks of ≤ budget characters; the last notes what it dropped."""
    raw = text.split("\n")
    note_room = len(trim_note(len(raw))) + 1
    width = (budget - note_room - 2) // 3  # a reopened fence, one line and its closer always fit
    layout = scan("\n".join(_clip(line, width) for line in raw), strict=True)
    open_after = _open_after(layout)
    closing = [len(_closer(fence)) + 1 if fence else 0 for fence in open_after]
    count = len(layout.lines)
    chunks: list[str] = []
    i = 0
    while i < count:
        j = _fill(layout, open_after, closing, i, budget)
        if j < count and len(chunks) == max_chunks - 1:
            j = _fill(layout, open_after, closing, i, budget - note_room)
            chunks.append(_piece(layout, open_after, i, j) + "\n" + trim_note(count - j))
            break
        chunks.append(_piece(layout, open_after, i, j))
        i = j
    return chunks


def _open_after(layout: Layout) -> list[Fence | None]:
    """For each line, the fence still open after it."""
    out: list[Fence | None] = [None] * len(layout.lines)
    for fence in layout.fences:
        end = fence.closer if fence.closer is not None else len(layout.lines)
        out[fence.start : end] = [fence] * (end - fence.start)
    return out


def _fill(layout: Layout, open_after: list[Fence | None], closing: list[int], i: int, room: int) -> int:
    """How far a chunk starting at line i reaches within `room` characters (at least one line)."""
    before = open_after[i - 1] if i else None
    total = len(layout.lines[before.start]) + 1 if before else 0
    lines = layout.lines
    j = i
    while j < len(lines):
        size = len(lines[j])
        if total + size + closing[j] > room and j > i:
            break
        total += size + 1
        j += 1
    return j


def _piece(layout: Layout, open_after: list[Fence | None], i: int, j: int) -> str:
    before = open_after[i - 1] if i else None
    after = open_after[j - 1]
    lines = ([layout.lines[before.start]] if before else []) + layout.lines[i:j] + ([_closer(after)] if after else [])
    return "\n".join(lines)
