"""Pydantic models of the chat side: messages read, commands parsed, replies to post."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from sandbox.operations import Role

__all__ = ["ChatMessage", "CodeBlock", "Command", "Reply", "ReplyKind", "Role"]

ReplyKind = Literal["result", "escalation", "broadcast", "error", "request"]


class CodeBlock(BaseModel):
    """A fenced code block's exact text and its info string (language or path)."""

    text: str
    info: str = ""


class ChatMessage(BaseModel):
    """One message as read from the chat UI."""

    id: str
    role: Role
    text: str
    code_blocks: list[CodeBlock] = Field(default_factory=list)
    complete: bool = True
    chat_id: str = ""


class Command(BaseModel):
    """One `@agent` command found in a message."""

    verb: str
    words: list[str] = Field(default_factory=list, description="the verb words as written")
    meta: list[str] = Field(default_factory=list, description="#tags without the '#'")
    params: dict[str, str] = Field(default_factory=dict)
    data: str | None = None
    code_blocks: list[CodeBlock] = Field(default_factory=list)
    line: str = ""
    index: int = Field(default=0, description="position among the message's commands")
    body: str = Field(
        default="",
        description="without [data]: the text after the command line up to the next command, code blocks exact "
        "(keeps the path labels written before a block)",
    )


class Reply(BaseModel):
    """A post the bot makes into the chat."""

    text: str
    in_reply_to: str | None = None
    kind: ReplyKind = "result"
