"""The message protocol, pure: chat text -> `@agent` commands, and MCP's replies -> chat posts."""

from bridge.protocol.parse import ParseIssue, ParseResult, agent_at, data_items, parse
from bridge.protocol.paths import paths_in
from bridge.protocol.posts import SIGNATURE, format_post, is_mcp_post, post_ref, sign, trim_post
from bridge.protocol.render import payload_of, render
from bridge.protocol.verbs import VERBS, VerbSpec, default_permissions, help_text
from sandbox.markdown import fenced

__all__ = [
    "SIGNATURE",
    "VERBS",
    "ParseIssue",
    "ParseResult",
    "VerbSpec",
    "agent_at",
    "data_items",
    "default_permissions",
    "fenced",
    "format_post",
    "help_text",
    "is_mcp_post",
    "parse",
    "paths_in",
    "payload_of",
    "post_ref",
    "render",
    "sign",
    "trim_post",
]
