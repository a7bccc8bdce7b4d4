"""The mock chat's assistant: scripted rules from YAML, or any OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Literal, Protocol

import yaml
from openai import AsyncOpenAI, OpenAIError
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, Field, field_validator

_TOKENS = re.compile(r"\s*\S+|\s+")


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class AssistantFailure(Exception):
    """The reply ends in the UI's error bubble with this text."""


class Thought(BaseModel):
    """A piece of the reasoning shown before the answer (grok's thinking section), not of the answer."""

    text: str


class Assistant(Protocol):
    def stream(self, history: Sequence[Turn]) -> AsyncIterator[str | Thought]:
        """The reply to the last user turn, piece by piece (answer text, or a Thought); raises AssistantFailure to end in an error."""
        ...


class Rule(BaseModel):
    """When `match` (a regex) is found in the user's message, stream `reply` (`\\1`, `\\g<name>` expand)."""

    match: str = ""
    reply: str = ""
    delay_ms: float | None = Field(default=None, description="pause between pieces; the script's default if unset")
    first_delay_ms: float = Field(default=0, description="'thinking' time before the first piece")
    chunk: int | None = Field(default=None, gt=0, description="characters per piece; default: word by word")
    error: str | None = Field(default=None, description="after the reply (possibly empty), fail with this text")
    thinking: str | None = Field(default=None, description="reasoning streamed before the answer (shown in a thinking section)")

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regex: {exc}") from exc
        return value


class Script(BaseModel):
    """Ordered rules; the first that matches answers, else `default` (the assistant answers every turn)."""

    rules: list[Rule] = Field(default_factory=list)
    default: Rule = Rule(reply="Noted.")
    delay_ms: float = 15


def pieces(text: str, chunk: int | None) -> list[str]:
    """The reply cut into streamed pieces that join back to exactly `text`."""
    if chunk:
        return [text[i : i + chunk] for i in range(0, len(text), chunk)]
    return _TOKENS.findall(text)


class ScriptedAssistant:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()

    def pick(self, message: str) -> tuple[Rule, str]:
        """The rule that answers a message and its expanded reply."""
        for rule in self.script.rules:
            found = re.search(rule.match, message, re.S)
            if found:
                return rule, found.expand(rule.reply)
        return self.script.default, self.script.default.reply

    async def stream(self, history: Sequence[Turn]) -> AsyncIterator[str | Thought]:
        rule, reply = self.pick(history[-1].content if history else "")
        delay = (self.script.delay_ms if rule.delay_ms is None else rule.delay_ms) / 1000
        await asyncio.sleep(rule.first_delay_ms / 1000)
        for thought in pieces(rule.thinking or "", rule.chunk):
            yield Thought(text=thought)
            await asyncio.sleep(delay)
        for piece in pieces(reply, rule.chunk):
            yield piece
            await asyncio.sleep(delay)
        if rule.error is not None:
            raise AssistantFailure(rule.error)


class OpenAIAssistant:
    """Streams a real model's answer from an OpenAI-compatible endpoint."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None, system: str | None = None) -> None:
        self.model = model
        self.system = system
        self.client = AsyncOpenAI(base_url=base_url, api_key=api_key)

    async def stream(self, history: Sequence[Turn]) -> AsyncIterator[str | Thought]:
        messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": self.system}] if self.system else []
        for turn in history:
            messages.append({"role": "user", "content": turn.content} if turn.role == "user" else {"role": "assistant", "content": turn.content})
        try:
            response = await self.client.chat.completions.create(model=self.model, messages=messages, stream=True)
            async for chunk in response:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except OpenAIError as exc:
            raise AssistantFailure(f"Something went wrong: {type(exc).__name__}") from exc


def load_script(path: Path) -> Script:
    """A script from YAML: `{rules: [...], default: {...}, delay_ms: N}` or just a list of rules."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(document, list):
        document = {"rules": document}
    return Script.model_validate(document or {})
