"""Server-side HTML of the mock chat: grok-like message bubbles and the pages around them."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from bridge.mockchat.store import Message

_TAB_AFTER_SPACES = re.compile(r"^([-+ ]?)( +)\t", re.M)


def lossy_code(code: str) -> str:
    """What one popular chat UI does to code: a tab that follows leading spaces (after a diff marker) becomes four spaces."""
    while True:
        changed = _TAB_AFTER_SPACES.sub(r"\1\2    ", code)
        if changed == code:
            return code
        code = changed


def _lossy_fence(self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    tokens[idx].content = lossy_code(tokens[idx].content)
    return RendererHTML.fence(self, tokens, idx, options, env)


def _parser(breaks: bool, lossy: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": breaks}).enable(["table", "strikethrough"])
    if lossy:
        md.add_render_rule("fence", _lossy_fence)
    return md


_PARSERS = {(breaks, lossy): _parser(breaks, lossy) for breaks in (False, True) for lossy in (False, True)}


@lru_cache(maxsize=8192)
def markdown_html(text: str, *, user: bool, lossy: bool) -> str:
    """User turns keep their line breaks; raw HTML in a message is shown as text."""
    return _PARSERS[(user, lossy)].render(text)


def message_html(message: Message, *, lossy: bool) -> str:
    """One turn: `div#response-<id>.message-bubble[data-testid]` with its markdown, error and actions."""
    testid = "user-message" if message.role == "user" else "assistant-message"
    parts = [
        f'<div id="response-{escape(message.id)}" class="message-bubble {message.role}" data-testid="{testid}">',
        f'<div class="response-content-markdown">{markdown_html(message.markdown, user=message.role == "user", lossy=lossy)}</div>',
    ]
    if message.status == "error":
        parts.append(
            f'<div class="error-bubble" role="alert" data-testid="error-bubble">{escape(message.error or "Something went wrong.")}'
            '<button type="button" class="retry">Retry</button></div>'
        )
    if message.status == "done":
        parts.append('<div class="message-actions"><button type="button" data-testid="copy-button" aria-label="Copy">Copy</button></div>')
    parts.append("</div>")
    return "".join(parts)


def message_view(message: Message, *, lossy: bool) -> dict[str, Any]:
    """What the page needs to show or update a turn."""
    return {"id": message.id, "status": message.status, "markdown": message.markdown, "html": message_html(message, lossy=lossy)}


def page(title: str, body: str, stylesheet: str = "/static/chat.css") -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="{stylesheet}"></head>'
        f"<body>{body}</body></html>"
    )


def json_script(element_id: str, data: Any) -> str:
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")  # no tag can start inside the script
    return f'<script id="{element_id}" type="application/json">{payload}</script>'


COMPOSERS = {
    "contenteditable": '<div class="tiptap ProseMirror" contenteditable="true" role="textbox" translate="no" aria-label="Ask Grok anything"></div>',
    "textarea": '<textarea data-testid="composer-textarea" aria-label="Ask Grok anything" rows="3"></textarea>',
}


def chat_page(chat_id: str, messages: list[Message], *, has_more: bool, settings: dict[str, Any]) -> str:
    """The conversation: the (possibly windowed) history, the composer, the page script."""
    lossy = bool(settings["lossy"])
    history = "".join(message_html(m, lossy=lossy) for m in messages)
    data = {
        "chatId": chat_id,
        **settings,
        "raw": {m.id: m.markdown for m in messages},
        "streaming": [m.id for m in messages if m.status == "streaming"],
    }
    body = (
        '<main class="chat">'
        f'<div class="messages" id="messages"><div id="history-top" data-has-more="{int(has_more)}"></div>{history}</div>'
        '<div id="status-slot"></div>'
        f'<form class="composer" data-composer>{COMPOSERS[settings["composer"]]}'
        '<div class="composer-actions"><button type="submit" data-testid="chat-submit" aria-label="Submit">Send</button></div>'
        "</form></main>"
        f'{json_script("chat-data", data)}<script src="/static/chat.js"></script>'
    )
    return page("Mock chat", body)


def logged_out_page(next_url: str) -> str:
    body = (
        '<main class="chat"><div class="paywall" data-testid="anon-paywall-sign-up-card">'
        "<h2>Sign up to continue</h2><p>Log in to see this conversation.</p>"
        f'<a data-testid="sign-in-link" href="/login?next={escape(next_url)}">Sign in</a></div></main>'
    )
    return page("Mock chat", body)


def login_page(next_url: str) -> str:
    body = (
        '<main class="login"><form method="post" action="/login">'
        f'<input type="hidden" name="next" value="{escape(next_url)}">'
        '<label>Email <input name="username" autocomplete="username"></label>'
        '<label>Password <input name="password" type="password" autocomplete="current-password"></label>'
        '<button type="submit" data-testid="login-submit">Sign in</button></form></main>'
    )
    return page("Sign in", body)


def challenge_page() -> str:
    body = (
        '<div id="challenge-running"><h1>Checking your browser before accessing the site.</h1></div>'
        '<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1"></script>'
    )
    return page("Just a moment...", body)
