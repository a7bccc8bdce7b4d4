"""HTML of the grok-2026 fixture: turns as public tools describe grok.com in autumn 2026.

A turn is `div#response-<id>` (the wrapper, with the action row) around the bubble
`.message-bubble[role=article][data-testid=user-message|assistant-message]`; an assistant bubble may
open with a `.thinking-container` whose content is markdown too. Code blocks are
`[data-testid=code-block]` with a header (language label, Copy button) and a Shiki-style body
(`pre > code > span.line`, colours inline, no `language-*` class). Rows, transforms and recycling are
the page script's (static/grok.js).
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from bridge.mockchat.render import json_script, page
from bridge.mockchat.store import Message

_TOKEN = re.compile(
    r"(?P<comment>//[^\n]*|#[^\n]*)|(?P<string>\"(?:\\.|[^\"\\\n])*\"?)|(?P<number>\b\d+(?:\.\d+)?\b)"
    r"|(?P<keyword>\b(?:fn|let|mut|pub|use|mod|struct|enum|impl|trait|for|while|loop|if|else|match|return|const|static"
    r"|self|Self|crate|where|as|in|true|false|def|class|import|from)\b)|(?P<word>\w+)|(?P<space>\s+)|(?P<other>.)"
)
_COLOURS = {"comment": "#6A737D", "string": "#9ECBFF", "number": "#79B8FF", "keyword": "#F97583", "word": "#E1E4E8", "other": "#E1E4E8"}


def shiki_line(line: str) -> str:
    """One line as Shiki writes it: every token in a coloured span, whitespace included."""
    spans = []
    for found in _TOKEN.finditer(line):
        kind = found.lastgroup or "other"
        colour = _COLOURS.get(kind, "#E1E4E8")
        spans.append(f'<span style="color:{colour}">{escape(found.group())}</span>')
    return f'<span class="line">{"".join(spans)}</span>'


def code_block(code: str, info: str) -> str:
    """Grok's code block: a header with the language and a Copy button; Shiki lines joined by newlines."""
    body = code[:-1] if code.endswith("\n") else code
    label = info.split()[0] if info.strip() else ""
    lines = "\n".join(shiki_line(line) for line in body.split("\n"))
    return (
        '<div data-testid="code-block" class="chat-code-block not-prose relative my-3 rounded-xl">'
        '<div class="flex items-center justify-between rounded-t-xl px-3 py-1">'
        f'<span class="font-mono text-xs">{escape(label)}</span>'
        '<div class="flex gap-1"><button type="button" aria-label="Copy" class="code-copy">Copy</button></div></div>'
        '<div class="shiki-wrap overflow-x-auto"><pre class="shiki github-dark" tabindex="0"'
        ' style="background-color:#24292e;color:#e1e4e8"><code>'
        f"{lines}</code></pre></div></div>"
    )


def _fence(self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return code_block(tokens[idx].content, tokens[idx].info)


def _parser(breaks: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": breaks}).enable(["table", "strikethrough"])
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", lambda self, tokens, idx, options, env: code_block(tokens[idx].content, ""))
    return md


_PARSERS = {breaks: _parser(breaks) for breaks in (False, True)}


@lru_cache(maxsize=8192)
def markdown_html(text: str, *, user: bool) -> str:
    return _PARSERS[user].render(text)


ASSISTANT_ACTIONS = ("Copy", "Share", "Like", "Dislike", "Regenerate", "More actions")
USER_ACTIONS = ("Edit", "Copy")


def _actions(labels: tuple[str, ...]) -> str:
    buttons = "".join(f'<button type="button" aria-label="{label}" class="action">{label}</button>' for label in labels)
    return f'<div class="action-buttons flex gap-1">{buttons}</div>'


def turn_html(message: Message) -> str:
    """The `response-<id>` wrapper of one turn: bubble (thinking, answer, error) and the action row."""
    user = message.role == "user"
    side = "items-end" if user else "items-start"
    inner: list[str] = []
    if message.thinking:
        label = "Thinking…" if message.status == "streaming" and not message.markdown else f"Thought for {max(1, len(message.thinking) // 40)}s"
        inner.append(
            '<div class="thinking-container mb-3">'
            f'<button type="button" class="thinking-toggle">{label}</button>'
            f'<div class="thinking-content response-content-markdown">{markdown_html(message.thinking, user=False)}</div></div>'
        )
    if message.markdown or user or (message.status == "done" and not message.thinking):
        inner.append(f'<div class="response-content-markdown markdown">{markdown_html(message.markdown, user=user)}</div>')
    if message.status == "error":
        inner.append(f'<div data-testid="error-message" role="alert" class="error">{escape(message.error or "Something went wrong.")}</div>')
    testid = "user-message" if user else "assistant-message"
    parts = [
        f'<div id="response-{escape(message.id)}" class="relative group flex flex-col w-full {side}">',
        f'<div class="message-bubble relative rounded-3xl" role="article" data-testid="{testid}">{"".join(inner)}</div>',
    ]
    if message.status == "done":
        parts.append(_actions(USER_ACTIONS if user else ASSISTANT_ACTIONS))
    elif message.thinking and not message.markdown:
        parts.append(_actions(("Copy",)))  # grok shows Copy under a reasoning-only bubble before the answer mounts
    parts.append("</div>")
    return "".join(parts)


def turn_view(message: Message) -> dict[str, Any]:
    """What the page needs to show or update a turn (fixture plumbing, carried beside the gateway's own fields)."""
    return {"id": message.id, "role": message.role, "status": message.status, "markdown": message.markdown, "html": turn_html(message)}


FORM = (
    '<form data-composer class="composer relative" autocomplete="off">'
    '<textarea name="query" class="hidden-input" aria-hidden="true" tabindex="-1"></textarea>'
    '<div class="editor-slot"></div>'
    '<div class="composer-bar">'
    '<button type="button" aria-label="Attach" class="attach">+</button>'
    '<button id="model-select-trigger" type="button" aria-haspopup="menu" aria-expanded="false" class="model-picker">'
    "<span>Grok 4</span></button>"
    '<div class="send-slot"></div></div></form>'
)


def app_page(settings: dict[str, Any]) -> str:
    """The single-page app shell: history, composer and state come from the page script."""
    body = (
        '<div class="app"><main class="chat-main">'
        '<div data-testid="chat-transcript-scroller" class="transcript" aria-busy="false">'
        '<div class="virtual-canvas"></div></div>'
        '<div class="status-slot"></div>'
        f"{FORM}</main>"
        '<section aria-label="Notifications alt+T" tabindex="-1" class="toasts"><ol data-sonner-toaster="true"></ol></section>'
        "</div>"
        f'{json_script("app-data", settings)}<script src="/static/grok.js"></script>'
    )
    return page("Grok", body, stylesheet="/static/grok.css")


def sign_in_page(redirect: str) -> str:
    """accounts.<host>/sign-in: where grok sends a logged-out page."""
    body = (
        '<main class="sign-in"><h1>Sign in to X.AI</h1>'
        '<form method="post" action="/sign-in">'
        f'<input type="hidden" name="redirect" value="{escape(redirect)}">'
        '<label>Email <input name="email" autocomplete="username"></label>'
        '<label>Password <input name="password" type="password" autocomplete="current-password"></label>'
        '<button type="submit" data-testid="sign-in-submit">Sign in</button>'
        '<a href="/sign-up">Sign up</a></form></main>'
    )
    return page("Sign in - xAI", body, stylesheet="/static/grok.css")
