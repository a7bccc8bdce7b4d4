"""Message text -> `@agent` commands, and what was not executed and why."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from loguru import logger
from pydantic import BaseModel, Field

from bridge.models import ChatMessage, CodeBlock, Command
from bridge.protocol.arguments import QUOTE_CAP, ArgumentError, arguments
from bridge.protocol.lookalike import AT_SIGNS, INVISIBLE, mimicked, skeleton
from bridge.protocol.markdown import exact_text, in_code_spans
from bridge.protocol.posts import is_bot_post
from bridge.protocol.verbs import Verb, lookup, suggest
from sandbox.markdown import Kind, Layout, line_numbers, scan
from sandbox.text import clip

AGENT = "@agent"
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DATA_KEYS = ("msg", "vibe")
ITEM = re.compile(r"(msg|vibe)[ \t]*:", re.IGNORECASE)
MAX_ISSUES = 10
MAX_COMMAND_LINES = 100
# Lines that may address the bot: an at sign (or a look-alike of one) after blanks and invisible characters.
ADDRESSED = re.compile(rf"^(?:[^\S\n]|[{INVISIBLE}])*[{AT_SIGNS}]", re.MULTILINE)
TEXT_CAP = 200
LOOKALIKE = "looks like @agent but contains look-alike characters; not executed"
# Lone UTF-16 surrogates (a streamed emoji cut in half): no text holding them can be stored or applied exactly.
BROKEN = re.compile("[\ud800-\udfff]")
BROKEN_REASON = "the message holds broken characters (unpaired UTF-16 surrogates); its commands were not executed, send it again"
HELP_HINT = "write `@agent help` for the list"
# The seed author's edit tags right after `@agent` make the line an edit command.
EDIT_TAG = re.compile(r"[ \t]*<(code_file|code_patch)\b", re.IGNORECASE)
TAG_VERB = "code improvement"


class ParseIssue(BaseModel):
    """A line that addresses the bot but is not executed, with the reason to tell the writer."""

    line: int = Field(description="1-based line number in the message; 0 for the message as a whole")
    text: str = ""
    reason: str
    suggestions: list[str] = Field(default_factory=list)


class ParseResult(BaseModel):
    """The commands of one message in order, the issues to report, and notes on how code was read."""

    commands: list[Command] = Field(default_factory=list)
    issues: list[ParseIssue] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class _Refusal(Exception):
    """A command line that cannot run; carries the reason and suggestions."""

    def __init__(self, reason: str, suggestions: list[str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.suggestions = suggestions or []


@dataclass(slots=True)
class _Head:
    """The tokens of a command line before its data."""

    words: list[str] = field(default_factory=list)
    meta: list[str] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    stray: list[str] = field(default_factory=list)


def parse(message: ChatMessage | str, roles: Mapping[str, Verb] | None = None) -> ParseResult:
    """Find the `@agent` commands of a message, and the tags of the configured `roles` (tag -> verb). Never raises."""
    tags = dict(roles or {})
    try:
        if isinstance(message, ChatMessage):
            if message.role == "mcp":
                return ParseResult()
            return _parse(message.text, message.code_blocks, tags)
        return _parse(message, [], tags)
    except Exception as exc:  # a parser bug must not stop the bridge; nothing is executed
        logger.exception(f"protocol parser failed: {exc}")
        return ParseResult(issues=[ParseIssue(line=0, reason="the message could not be read as commands (internal error); not executed")])


def agent_at(line: str) -> int | None:
    """Where the command text starts when the line is an `@agent` command line."""
    rest = line.lstrip()
    head = rest[: len(AGENT)]
    if not (head.isascii() and head.lower() == AGENT):
        return None
    after = rest[len(AGENT) : len(AGENT) + 1]
    if after and not after.isspace() and after != "[":
        return None
    return len(line) - len(rest) + len(AGENT)


def tag_at(line: str, roles: Mapping[str, Verb]) -> tuple[Verb | None, int] | None:
    """The role verb (None for `@agent`) a command line starts with, and where its text starts."""
    start = agent_at(line)
    if start is not None:
        return None, start
    rest = line.lstrip()
    tag = rest.split(maxsplit=1)[0].split("[", 1)[0] if rest else ""
    verb = roles.get(tag.lower()) if tag.isascii() else None
    return (verb, len(line) - len(rest) + len(tag)) if verb is not None else None


def lookalike_reason(tag: str) -> str:
    return LOOKALIKE.replace(AGENT, tag)


def data_items(data: str) -> dict[str, str]:
    """`msg: …` / `vibe: …` items of a data text that starts with one; each runs to the next item (empty ones dropped)."""
    if not ITEM.match(data.lstrip()):
        return {}
    items: dict[str, str] = {}
    key, value = "", list[str]()
    for line in data.lstrip().split("\n"):
        found = ITEM.match(line.lstrip())
        if found:
            if key:
                items[key] = "\n".join(value).strip()
            key, value = found.group(1).lower(), [line.lstrip()[found.end() :]]
        else:
            value.append(line)
    items[key] = "\n".join(value).strip()
    return {k: v for k, v in items.items() if v}


def _parse(text: str, exact: list[CodeBlock], roles: dict[str, Verb]) -> ParseResult:
    if is_bot_post(text):
        return ParseResult()
    if BROKEN.search(text) or any(BROKEN.search(b.text + b.info) for b in exact):
        found = _parse(BROKEN.sub("\ufffd", text), [], roles)
        return ParseResult(issues=[ParseIssue(line=0, reason=BROKEN_REASON)]) if found.commands or found.issues else ParseResult()
    layout = scan(text, indented=True)
    blocks, warnings = _code_blocks(layout, exact)
    starts, looks = _addressed_lines(text, layout, roles)
    issues = [ParseIssue(line=i + 1, text=clip(layout.lines[i], TEXT_CAP), reason=lookalike_reason(tag)) for i, tag in looks]
    if len(starts) > MAX_COMMAND_LINES:
        skipped = len(starts) - MAX_COMMAND_LINES
        reason = f"{skipped} more @agent lines were not read (at most {MAX_COMMAND_LINES} per message)"
        issues.append(ParseIssue(line=starts[MAX_COMMAND_LINES] + 1, reason=reason))
    commands: list[Command] = []
    for k, first in enumerate(starts[:MAX_COMMAND_LINES]):
        stop = starts[k + 1] if k + 1 < len(starts) else len(layout.lines)
        try:
            commands.append(_command(layout, blocks, first, stop, len(commands), roles))
        except _Refusal as refusal:
            line = clip(layout.lines[first], TEXT_CAP)
            issues.append(ParseIssue(line=first + 1, text=line, reason=refusal.reason, suggestions=refusal.suggestions))
    return ParseResult(commands=commands, issues=_bounded(issues), warnings=warnings)


def _addressed_lines(text: str, layout: Layout, roles: dict[str, Verb]) -> tuple[list[int], list[tuple[int, str]]]:
    """The command lines and the look-alike lines (with the tag each mimics), outside code blocks and inline code spans.

    Where a block holds fences of its own, a line is code when either reading makes it code:
    CommonMark's, or the nested one of an outer fence that was not lengthened.
    """
    nested = scan(text, indented=True, nested=True).kinds if layout.nesting else layout.kinds
    starts: list[int] = []
    looks: list[tuple[int, str]] = []
    tags = (AGENT, *roles)
    for i in line_numbers(text, ADDRESSED):
        if layout.kinds[i] != Kind.PLAIN or nested[i] != Kind.PLAIN:
            continue
        if tag_at(layout.lines[i], roles) is not None:
            starts.append(i)
        elif (tag := mimicked(layout.lines[i], tags)) is not None:
            looks.append((i, tag))
    hidden = in_code_spans(layout, sorted(starts + [i for i, _ in looks]))
    return [i for i in starts if i not in hidden], [(i, tag) for i, tag in looks if i not in hidden]


def _bounded(issues: list[ParseIssue]) -> list[ParseIssue]:
    """Issues in line order, at most MAX_ISSUES of them (the last one then counts the rest)."""
    issues = sorted(issues, key=lambda issue: issue.line)
    if len(issues) <= MAX_ISSUES:
        return issues
    more = len(issues) - MAX_ISSUES + 1
    return [*issues[: MAX_ISSUES - 1], ParseIssue(line=0, reason=f"{more} more lines addressed to @agent were not executed")]


def _code_blocks(layout: Layout, exact: list[CodeBlock]) -> tuple[list[CodeBlock], list[str]]:
    """Every fenced block's exact text: from the message's code blocks when they match the fences one to one."""
    own = [CodeBlock(text=f.body(layout.lines), info=f.opener.info) for f in layout.fences]
    if not exact:
        return own, []
    if len(exact) != len(own):
        note = (
            f"the message text has {len(own)} fenced block(s) but {len(exact)} exact code block(s) came with it; "
            "code was read from the text"
        )
        logger.warning(note)
        return own, [note]
    return [CodeBlock(text=e.text, info=e.info or o.info) for e, o in zip(exact, own, strict=True)], []


def _command(layout: Layout, blocks: list[CodeBlock], first: int, stop: int, index: int, roles: dict[str, Verb]) -> Command:
    line = layout.lines[first]
    found = tag_at(line, roles)
    assert found is not None, "a region starts at a command line"
    role, start = found
    tag = EDIT_TAG.match(line, start) if role is None else None
    if tag is not None:
        return _tag_command(layout, blocks, first, stop, index, line[tag.start(1) - 1 :])
    bracket = line.find("[", start)
    head = _tokens(line[start : bracket if bracket >= 0 else len(line)].split())
    data = _data(layout, first, stop, bracket) if bracket >= 0 else None
    spec, params = _verb(head) if role is None else _role(head, role), dict(head.params)
    code = [blocks[i] for i in layout.fences_between(first + 1, stop)]
    body = exact_text(scan("\n".join(layout.lines[first + 1 : stop])), code).strip("\n") if bracket < 0 else ""
    _validate(spec, params, data, code)
    if data is not None:
        params.update(data_items(data))
    cmd = Command(
        verb=spec.name, words=head.words, meta=head.meta, params=params, data=data,
        code_blocks=code, line=line.strip(), index=index, body=body,
    )
    try:
        arguments(spec, cmd)
    except ArgumentError as exc:
        raise _Refusal(exc.reason) from None
    return cmd


def _tag_command(layout: Layout, blocks: list[CodeBlock], first: int, stop: int, index: int, tag: str) -> Command:
    """`@agent <code_file …>…</code_file>`, the seed author's dialect with the tag on the command line: an edit."""
    line = layout.lines[first]
    code = [blocks[i] for i in layout.fences_between(first + 1, stop)]
    rest = exact_text(scan("\n".join(layout.lines[first + 1 : stop])), code)
    body = "\n".join([tag, rest]).strip("\n")
    return Command(verb=TAG_VERB, code_blocks=code, line=line.strip(), index=index, body=body)


def _tokens(tokens: list[str]) -> _Head:
    head = _Head()
    for token in tokens:
        key, eq, value = token.removeprefix("#").partition("=")
        if eq and value and KEY.fullmatch(key):
            head.params[key.lower()] = value
        elif token.startswith("#") and len(token) > 1:
            head.meta.append(token[1:])
        elif head.meta or head.params or head.stray:
            head.stray.append(token)
        else:
            head.words.append(token)
    return head


def _verb(head: _Head) -> Verb:
    if not head.words:
        raise _Refusal(f"@agent without a command; {HELP_HINT}", ["help"])
    found = lookup(head.words)
    if found is None:
        written = clip(" ".join(head.words[:4]), QUOTE_CAP)
        lookalike = lookup(skeleton(written).split())
        if lookalike is not None and lookalike[1] == len(written.split()):
            name = lookalike[0].name
            raise _Refusal(f"'{written}' looks like '{name}' but contains look-alike characters; not executed", [name])
        options = suggest(written)
        tail = f"did you mean: {', '.join(options)}?" if options else HELP_HINT
        raise _Refusal(f"unknown command '{written}'; {tail}", options)
    spec, used = found
    stray = head.words[used:] + head.stray
    head.words = head.words[:used]
    if stray:
        raise _Refusal(f"unexpected '{clip(' '.join(stray), QUOTE_CAP)}' after '{spec.name}': use #meta, key=value or [data]; {HELP_HINT}")
    return spec


def _role(head: _Head, verb: Verb) -> Verb:
    """A role tag takes no verb words: what follows it is #meta, key=value and the request."""
    stray = head.words + head.stray
    if stray:
        raise _Refusal(f"unexpected '{clip(' '.join(stray), QUOTE_CAP)}' after '{verb.name}': use #meta, key=value or [request]; {HELP_HINT}")
    return verb


def _validate(spec: Verb, params: dict[str, str], data: str | None, code: list[CodeBlock]) -> None:
    """The keys a verb does not take and a missing payload; the values are its arguments model's to check."""
    for key in params:
        if key not in spec.keys:
            takes = f"it takes: {', '.join(spec.keys)}" if spec.keys else "it takes none"
            raise _Refusal(f"`{spec.name}` has no parameter '{key}'; {takes}", difflib.get_close_matches(key, list(spec.keys), n=1))
    if spec.needs_data and not (data or code):
        raise _Refusal(f"`{spec.name}` needs data: [vibe: …], [patch] or a fenced patch block after the line")


def _data(layout: Layout, first: int, stop: int, bracket: int) -> str:
    """The text inside `[ … ]`: on the command line when its brackets close there, else up to the
    last `]` that ends a line of the command's region outside fenced code."""
    lines, kinds = layout.lines, layout.kinds
    tail = lines[first][bracket + 1 :]
    if 1 + tail.count("[") - tail.count("]") > 0:
        for k in range(stop - 1, first, -1):
            end = len(lines[k].rstrip()) - 1
            if kinds[k] == Kind.PLAIN and lines[k][end : end + 1] == "]":
                return _between(lines, first, bracket, k, end)
    end = lines[first].rfind("]", bracket + 1)
    if end < 0:
        raise _Refusal("unclosed '[': the data has no closing ']'; not executed")
    return _between(lines, first, bracket, first, end)


def _between(lines: list[str], first: int, bracket: int, last: int, end: int) -> str:
    if first == last:
        return lines[first][bracket + 1 : end].strip()
    middle = lines[first + 1 : last]
    return "\n".join([lines[first][bracket + 1 :], *middle, lines[last][:end]]).strip()
