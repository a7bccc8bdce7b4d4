"""The message protocol, pure: chat text -> `@agent` commands, and the bot's replies -> chat posts."""

from bridge.protocol.arguments import ArgumentError, arguments
from bridge.protocol.parse import parse
from bridge.protocol.posts import SIGNATURE, format_post, is_bot_post, post_ref, sign
from bridge.protocol.render import fenced, payload_of
from bridge.protocol.verbs import help_text

__all__ = [
    "SIGNATURE",
    "ArgumentError",
    "arguments",
    "fenced",
    "format_post",
    "help_text",
    "is_bot_post",
    "parse",
    "payload_of",
    "post_ref",
    "sign",
]
