"""Properties of the protocol over generated text: parse never fails, render round-trips, posts stay bounded."""

from __future__ import annotations

from functools import cache

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bridge.models import ChatMessage, CodeBlock, Command, Reply
from bridge.protocol import SIGNATURE, fenced, format_post, parse, payload_of, sign
from bridge.protocol.arguments import ArgumentError, arguments
from bridge.protocol.parse import agent_at
from bridge.protocol.posts import trim_note
from bridge.protocol.render import render
from bridge.protocol.verbs import BY_NAME, VERBS

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MD = MarkdownIt("commonmark")

FRAGMENTS = [
    "@agent", "@AGENT ", "@agent code improvement ", "@agent commit ", "code", "test", "check compile",
    "```", "````rust", "~~~", "`", "[", "]", "[[", "]]", "> ", ">> ", "- ", "1. ", "#", "#2025-07-12",
    "file_id=", "51", "=", "msg:", "vibe:", "\n", "\n\n", " ", "\t", "\r\n", "＠", "\u200b", "а", "ё", "\u00a0",
    "@agents", "email@agent.com", "— MCP · Colloqium DevSpace", "(part 1/2) ",
]
chat_text = st.one_of(
    st.text(max_size=400),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)), max_size=80).map("".join),
)


@SETTINGS
@given(chat_text, st.lists(st.builds(CodeBlock, text=st.text(max_size=30), info=st.text(max_size=5)), max_size=3))
def test_parse_never_raises_and_reads_only_command_lines(text: str, exact: list[CodeBlock]) -> None:
    for result in (parse(text), parse(ChatMessage(id="1", role="assistant", text=text, code_blocks=exact))):
        assert all("internal error" not in issue.reason for issue in result.issues)
        for k, cmd in enumerate(result.commands):
            assert cmd.index == k
            assert cmd.verb in BY_NAME
            assert agent_at(cmd.line) is not None


# render -> parse -------------------------------------------------------------------------------
TOKEN = st.text(alphabet="abcxyz_019./*-", min_size=1, max_size=8)
FREE = st.text(alphabet="abc xyzАБВ\tv[0]];(){}\n<>/.#=", max_size=60).map(str.strip)
CODE = st.text(alphabet="ab \t\n`~[]@>#-+=\\", max_size=80)
INFO = st.text(alphabet="abrust ./-`~", max_size=12).map(str.strip)


@st.composite
def commands(draw: st.DrawFn) -> Command:
    spec = draw(st.sampled_from(VERBS))
    words = [draw(st.sampled_from([w, w.upper(), w.capitalize()])) for w in spec.name.split()]
    meta = draw(st.lists(TOKEN, max_size=3))
    params: dict[str, str] = {}
    for key, field in spec.keys.items():
        if key in ("msg", "vibe"):
            continue
        if key == "file_id":
            ids = draw(st.lists(st.integers(1, 999).map(str), min_size=1, max_size=3 if field == "file_ids" else 1))
            value = ",".join(ids)
        else:
            value = draw(TOKEN)
        if draw(st.booleans()) or spec.args.model_fields[field].is_required():
            params[key] = value
    blocks = draw(st.lists(st.builds(CodeBlock, text=CODE, info=INFO), max_size=2))
    data: str | None = None
    inside = 0
    shape = draw(st.sampled_from(["none", "free", "item", "code"]))
    if shape == "free":
        data = draw(FREE)
    elif shape == "item":
        key = draw(st.sampled_from(["msg", "vibe"]))
        value = draw(FREE.filter(bool))
        data = f"{key}: {value}"
        params[key] = value
    elif shape == "code" and blocks:
        inside = draw(st.integers(1, len(blocks)))
        data = "\n".join([draw(FREE), *(fenced(b) for b in blocks[:inside]), draw(FREE)]).strip()
    if spec.needs_data and not (data or blocks):
        blocks = [CodeBlock(text="-a\n+b", info="diff")]
    cmd = Command(verb=spec.name, words=words, meta=meta, params=params, data=data, code_blocks=blocks)
    try:
        arguments(spec, cmd)
    except ArgumentError:
        assume(False)  # only commands whose arguments the verb takes (e.g. `code get`: one of file_id and path)
    return cmd


@SETTINGS
@given(commands())
def test_render_then_parse_gives_the_command_back(cmd: Command) -> None:
    text = render(cmd)
    result = parse(text)
    assert result.issues == []
    # `body` is the text after the command line, as parse reads it; the rest must round-trip exactly
    assert [c.model_dump(exclude={"body"}) for c in result.commands] == [
        cmd.model_copy(update={"line": text.split("\n")[0], "index": 0}).model_dump(exclude={"body"})
    ]
    assert render(result.commands[0]) == text
    for block in cmd.code_blocks:
        assert block.text in payload_of(result.commands[0])


PROSE = st.sampled_from(["", "Some prose.", "> quoted @agent undo", "see `@agent undo`", "```\nexample @agent undo\n```"])


@SETTINGS
@given(st.lists(st.tuples(commands(), PROSE), min_size=1, max_size=4))
def test_several_rendered_commands_in_one_message(pairs: list[tuple[Command, str]]) -> None:
    cmds = [cmd for cmd, _ in pairs]
    result = parse("\n".join(f"{render(cmd)}\n{prose}" for cmd, prose in pairs))
    assert [c.verb for c in result.commands] == [c.verb for c in cmds]
    example = [CodeBlock(text="example @agent undo")]
    assert [c.code_blocks for c in result.commands] == [c.code_blocks + (example if p.startswith("```") else []) for c, p in pairs]
    assert [c.params for c in result.commands] == [c.params for c in cmds]


# posts -------------------------------------------------------------------------------------------
LINE = st.one_of(
    st.text(alphabet="ab `~\t[]@#", max_size=70),
    st.sampled_from(["```", "````", "~~~", "```rust", "~~~~ text x", "  ```", "    ```", "\t~~~", "```a`b", "```diff", "", "@agent undo"]),
)
CONTENT = st.builds(
    lambda head, body, times, tail: "\n".join(head + body * times + tail),
    st.lists(LINE, max_size=5),
    st.lists(LINE, min_size=1, max_size=12),
    st.integers(1, 60),
    st.lists(LINE, max_size=5),
)


def inside_after(content: str) -> list[bool]:
    """For each line, whether CommonMark (markdown-it) is inside a fenced block after it."""
    lines = content.split("\n")
    out = [False] * len(lines)
    for token in MD.parse(content):
        if token.type != "fence" or token.map is None:
            continue
        start, end = token.map
        raw = lines[end - 1] if end - 1 > start else ""
        last = raw.strip(" \t")
        indent = len(raw[: len(raw) - len(raw.lstrip(" \t"))].expandtabs(4))
        closed = end - 1 > start and indent <= 3 and last.startswith(token.markup) and not last.lstrip(token.markup[0])
        for k in range(start, end - 1 if closed else len(lines)):
            out[k] = True
    return out


def fence_opener_before(content_lines: list[str], inside: list[bool], k: int) -> str:
    """The opener line of the fence that is open after line k."""
    j = k
    while j > 0 and inside[j - 1]:
        j -= 1
    return content_lines[j]


def rejoins(bodies: list[str], content: str) -> bool:
    """Whether the bodies are the content's lines in order, plus only a reopened fence at a part's start and a
    closing fence at its end exactly where the content is inside a fence."""
    lines = content.split("\n")
    inside = inside_after(content)

    @cache
    def walk(part: int, at: int) -> bool:
        if part == len(bodies):
            return at == len(lines)
        body = bodies[part].split("\n")
        if at > 0 and inside[at - 1]:
            if body[0] != fence_opener_before(lines, inside, at - 1):
                return False
            body = body[1:]
        for closed in (True, False):
            count = len(body) - 1 if closed else len(body)
            end = at + count
            if count < 1 or end > len(lines) or body[:count] != lines[at:end] or inside[end - 1] != closed:
                continue
            if closed and not body[-1].strip(" \t").startswith(fence_opener_before(lines, inside, end - 1).strip(" \t")[:3]):
                continue
            if walk(part + 1, end):
                return True
        return False

    return walk(0, 0)


@SETTINGS
@given(CONTENT, st.integers(400, 1500))
def test_format_post_parts_fit_and_rejoin_to_the_content(content: str, limit: int) -> None:
    parts = format_post(Reply(text=content), limit=limit, max_parts=1000)
    assert all(len(part) <= limit for part in parts)
    labels = [f"(part {i}/{len(parts)}) " for i in range(1, len(parts) + 1)] if len(parts) > 1 else [""]
    footers = [f"\n\n{label}{SIGNATURE}" for label in labels]
    assert all(part.endswith(footer) for part, footer in zip(parts, footers, strict=True))
    for part in parts:
        tokens = MD.parse(part)
        assert tokens[-1].type == "paragraph_close", "the signature must not be swallowed by an open fence"
    assert rejoins([p.removesuffix(f) for p, f in zip(parts, footers, strict=True)], content)


@SETTINGS
@given(CONTENT, st.integers(400, 1500))
def test_one_post_is_a_bounded_prefix(content: str, limit: int) -> None:
    (post,) = format_post(Reply(text=content), limit=limit, max_parts=1)
    assert len(post) <= limit
    if post == sign(content):
        return  # it fits (with any open fence closed)
    out = post.removesuffix(f"\n\n{SIGNATURE}")
    lines = content.split("\n")
    kept = out.split("\n")
    if not kept[-1].startswith("[… "):
        assert set(kept.pop()) <= set("`~")  # the signature closed a fence the cut left looking open
    note = kept.pop()
    assert note.startswith("[… ") and note.endswith(" more lines trimmed; full text in the log]")
    if kept != lines[: len(kept)]:
        kept.pop()  # the fence closed at the cut
    assert kept == lines[: len(kept)]
    assert note == trim_note(len(lines) - len(kept))
