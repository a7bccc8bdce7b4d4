"""Raw markdown as the chat UI keeps it: its code fences, its visible words, a comparable form."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from bridge.models import CodeBlock

_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_NOT_WORD = re.compile(r"[\W_]+")


def strip_final_newline(code: str) -> str:
    """Code as a DOM code element shows it: without the one newline that ends a fence's body."""
    return code[:-1] if code.endswith("\n") else code


def fences(markdown: str) -> list[CodeBlock]:
    """Every fenced or indented code block, exact, in order."""
    return [
        CodeBlock(text=strip_final_newline(token.content), info=token.info.strip())
        for token in _PARSER.parse(markdown)
        if token.type in ("fence", "code_block")
    ]


def _words(tokens: list[Token]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        if token.children:
            out.extend(_words(token.children))
        elif token.type == "fence":
            out += [*token.info.split()[:1], token.content]  # the page shows the language only
        elif token.type in ("text", "code_inline", "code_block"):
            out.append(token.content)
        elif token.type == "list_item_open" and token.info:
            out.append(f"{token.info}.")  # an ordered item's number, as the page shows it
    return out


def plain_text(markdown: str) -> str:
    """What a renderer shows of the markdown: text, code and list numbers, without markup, link targets or fences."""
    return " ".join(_words(_PARSER.parse(markdown)))


def normalise(text: str) -> str:
    """Letters and digits only, case-folded: equal for a post and its rendered turn."""
    return _NOT_WORD.sub("", text).casefold()


def same_post(sent: str, shown: str) -> bool:
    """Whether a turn's text is the sent markdown, rendered or shown as typed."""
    seen = normalise(shown)
    return bool(seen) and seen in (normalise(sent), normalise(plain_text(sent)))
