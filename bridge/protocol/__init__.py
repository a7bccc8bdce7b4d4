"""The message protocol, pure: chat text -> `@agent` commands, and MCP's replies -> chat posts."""

from bridge.protocol.arguments import ArgumentError, arguments
from bridge.protocol.parse import ParseIssue, ParseResult, agent_at, data_items, parse
from bridge.protocol.posts import SIGNATURE, format_post, is_mcp_post, post_ref, sign, trim_post
from bridge.protocol.render import fenced, payload_of, render
from bridge.protocol.verbs import VERBS, Verb, default_permissions, help_text

__all__ = [
    "ArgumentError",
    "SIGNATURE",
    "VERBS",
    "ParseIssue",
    "ParseResult",
    "Verb",
    "agent_at",
    "arguments",
    "data_items",
    "default_permissions",
    "fenced",
    "format_post",
    "help_text",
    "is_mcp_post",
    "parse",
    "payload_of",
    "post_ref",
    "render",
    "sign",
    "trim_post",
]
