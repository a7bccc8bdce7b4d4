"""Commands back to text: the canonical command line, and the payload an edit command carries."""

from __future__ import annotations

from bridge.models import CodeBlock, Command
from bridge.protocol.markdown import exact_text
from bridge.protocol.parse import DATA_KEYS, data_items
from sandbox.markdown import fenced, scan


def render(cmd: Command) -> str:
    """The canonical text of a command: `parse(render(cmd))` gives `cmd` back, with `line` its first line and index 0.

    The round trip holds for commands that `parse` can produce: meta and key=value values without whitespace or `[`.
    """
    data, rest = _with_exact_code(cmd)
    items = data_items(data) if data is not None else {}
    tag = [cmd.verb] if cmd.verb.startswith("@") else ["@agent", *(cmd.words or cmd.verb.split())]  # a role's tag, or @agent
    head = [*tag, *(f"#{m}" for m in cmd.meta)]
    loose: list[str] = []
    for key, value in cmd.params.items():
        if items.get(key) == value:
            continue
        if key in DATA_KEYS and data is None and not _token(value):
            loose.append(f"{key}: {value}")
        else:
            head.append(f"{key}={value}")
    if loose:
        data = "\n".join(loose)
    text = " ".join(head)
    if cmd.body and data is None:
        return f"{text}\n{cmd.body}"
    if data is not None:
        text += f" [{data}]" if "\n" not in data else f" [\n{data}\n]"
    return "\n".join([text, *(fenced(block.text, block.info) for block in rest)])


def payload_of(cmd: Command) -> str:
    """What an edit command carries, with each code block's exact text: its data, then its fenced blocks after the data."""
    if cmd.body.strip():
        return cmd.body
    data, rest = _with_exact_code(cmd)
    return "\n".join(([data] if data is not None else []) + [fenced(block.text, block.info) for block in rest])


def _token(value: str) -> bool:
    return bool(value) and "[" not in value and not any(ch.isspace() for ch in value)


def _with_exact_code(cmd: Command) -> tuple[str | None, list[CodeBlock]]:
    """The data with its fenced blocks' text replaced by the exact code blocks, and the blocks that follow the data."""
    if cmd.data is None:
        return None, list(cmd.code_blocks)
    layout = scan(cmd.data)
    inside = min(len(layout.fences), len(cmd.code_blocks))
    if not inside:
        return cmd.data, list(cmd.code_blocks)
    return exact_text(layout, cmd.code_blocks[:inside]), list(cmd.code_blocks[inside:])
