"""A command's arguments as its verb's model: `key=value` params, the topic `#word` and `[msg: …]`/`[vibe: …]` items."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from bridge.models import Command
from bridge.protocol.verbs import DATE_META, Verb
from sandbox.text import clip

QUOTE_CAP = 60
_DATE = re.compile(DATE_META)


class ArgumentError(ValueError):
    """Arguments the verb's model refuses; `reason` says which and why, for the writer of the command."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def topic(cmd: Command) -> str | None:
    """The first `#word` that is not a date (`#2025-07-12`)."""
    return next((m for m in cmd.meta if "=" not in m and not _DATE.fullmatch(m)), None)


def arguments(verb: Verb, cmd: Command) -> BaseModel:
    """The verb's arguments model built from the command; raises ArgumentError naming the bad argument.

    Params the verb does not take are not looked at (the parser refuses unknown `key=value` pairs;
    a `[msg: …]` item on a verb without `msg` is just text).
    """
    fields: dict[str, Any] = {verb.keys[key]: value for key, value in cmd.params.items() if key in verb.keys}
    found = topic(cmd)
    if verb.topic is not None and verb.topic not in fields and found is not None:
        fields[verb.topic] = found
    try:
        return verb.args.model_validate(fields)
    except ValidationError as exc:
        raise ArgumentError(_reason(verb, dict(exc.errors()[0]), fields)) from None


def _reason(verb: Verb, error: dict[str, Any], fields: dict[str, Any]) -> str:
    if not error["loc"]:
        return f"`{verb.name}` {str(error['msg']).removeprefix('Value error, ')}; usage: {verb.usage}"
    field = str(error["loc"][0])
    key = next((k for k, name in verb.keys.items() if name == field), field)
    if error["type"] == "missing":
        return f"`{verb.name}` needs {key}; usage: {verb.usage}"
    message = str(error["msg"]).removeprefix("Value error, ")
    message = re.sub(r"^(Input|String|List|Value) should", "should", message)
    return f"{key} {message}, not '{clip(str(fields.get(field, '')), QUOTE_CAP)}'"
