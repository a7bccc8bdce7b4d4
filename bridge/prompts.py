"""The prompts: the one that asks the LLM API for a corrected patch (the task, the failure, the current files),
and the agent roles' (their built-in system prompts, and a role's bounded context as one user message)."""

from __future__ import annotations

import re

from bridge.replies import fence, lang_of
from sandbox.models import CodeFile, sandwich_text
from sandbox.text import clip, trimmed

FILES_BUDGET = 24_000
TASK_BUDGET = 12_000
FAILURE_BUDGET = 6_000
PATCH_BUDGET = 12_000
TURN_CHARS = 1_200
REVIEWS_BUDGET = 3_000

EDIT_FORMAT = """The edit goes in fenced code blocks, either
- a unified diff (```diff) with `--- a/<path>` / `+++ b/<path>` headers and exact context lines, or
- SEARCH/REPLACE blocks, each in a fence: the file's path on the first line, then
  <<<<<<< SEARCH
  (lines copied exactly from the current file)
  =======
  (their replacement)
  >>>>>>> REPLACE
Paths are relative to the project root. Base the edit on the current files shown, not on earlier versions."""

SYSTEM = f"""You are fixing a Rust project (a cargo crate) so that it builds and its tests pass.
Answer ONLY with the edit, no prose. {EDIT_FORMAT}
Keep the change minimal: fix the reported failure only; do not reformat, rename or refactor anything else."""

_HANDS = """You work in a chat between a developer, an assistant and MCP, the program that applies patches,
builds and tests the project (a Rust cargo crate) and posts the results. You are called through the API
with a bounded context: the files named (each under a `=== file_id=N path=P ===` header), the last few
turns of the chat, and the request. You never commit, undo or run commands: lines of your answer are
never executed."""

NOTHING_NEW = "NO_COMMENT"
"""What the critic answers when it has nothing new to say (then nothing is posted)."""

GENERATOR = f"""{_HANDS}
You are the generator: you write the code the request asks for. Answer with at most three sentences
on what the change does, then the edit. {EDIT_FORMAT}
Change only what the request needs; keep the project's style and public API unless asked otherwise."""

TESTER = f"""{_HANDS}
You are the tester: you write or extend tests (`#[test]` functions) for the files named or for the
failing behaviour described. Put unit tests in the file's own `#[cfg(test)] mod tests` when it has one.
When a topic is given, every new test's name contains it. Do not change code outside tests. Answer with
one sentence naming the cases covered, then the edit. {EDIT_FORMAT}"""

CRITIC = f"""{_HANDS}
You are the critic: you review the files, the patch or the last change shown. Answer with at most six
short bullet points, most important first: concrete defects (wrong results, edge cases, panics,
overflow, performance, misleading names or docs), each naming the file and the line or function.
No patches and no code blocks. Do not repeat what your earlier reviews (if shown) already said.
If you have nothing new to say, answer exactly {NOTHING_NEW}."""

OPTIMIZER = f"""{_HANDS}
You are the optimizer: you propose a faster or smaller version of the code named, with exactly the same
behaviour and public API. Answer with one or two sentences on what gets faster or smaller and why, then
the edit. {EDIT_FORMAT}"""


def fix_prompt(
    task: str, failure_summary: str, files: list[CodeFile], attempt: int, *, system: str = SYSTEM
) -> list[dict[str, str]]:
    """Chat messages asking for a patch that fixes `failure_summary`; files the failure names come first.

    `system`: the fixer's system prompt (a role's own when a role's patch failed)."""
    named = sorted(files, key=lambda f: f.path not in failure_summary)
    parts = [
        f"Task (fix attempt {attempt}):\n{trimmed(task, TASK_BUDGET)}",
        f"The build or tests fail:\n{fence(trimmed(failure_summary, FAILURE_BUDGET), 'text')}",
    ]
    if attempt > 1:
        parts.append("Earlier fixes for this task failed as shown above; do not repeat them.")
    if named:
        parts.append("Current files:\n\n" + _files(named, failure_summary))
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def role_prompt(
    system: str,
    request: str,
    *,
    files: list[CodeFile],
    turns: list[tuple[str, str]],
    patch: str | None = None,
    topic: str | None = None,
    reviews: list[str] | None = None,
) -> list[dict[str, str]]:
    """A role's call: its system prompt and one user message holding the request and its bounded context.

    `turns`: (actor, text) of the last few chat turns, oldest first, each clipped; `files` as a
    sandwich within FILES_BUDGET; `patch` (under review) within PATCH_BUDGET; `reviews`: the critic's
    earlier reviews in this chat, so that it says only what is new.
    """
    parts = [f"Request:\n{trimmed(request, TASK_BUDGET)}"]
    if topic:
        parts.append(f"Topic: `{topic}` (the names of new tests contain it; the tests matching it must pass).")
    if files:
        parts.append("Files (a sandwich with file ids):\n" + _sandwich(files))
    if patch:
        parts.append(f"The patch:\n{fence(trimmed(patch, PATCH_BUDGET), 'diff')}")
    if turns:
        shown = "\n".join(f"[{actor}] {clip(text, TURN_CHARS)}" for actor, text in turns)
        parts.append(f"The last turns of the chat, oldest first:\n{fence(shown, 'text')}")
    if reviews:
        parts.append(f"Your earlier reviews in this chat:\n{fence(trimmed(chr(10).join(reviews), REVIEWS_BUDGET), 'text')}")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def _sandwich(files: list[CodeFile]) -> str:
    """The files as one sandwich, each cut to its share of FILES_BUDGET."""
    share = FILES_BUDGET // max(1, len(files))
    return sandwich_text([f.model_copy(update={"text": trimmed(f.text, share)}) for f in files])


def _files(files: list[CodeFile], failure_summary: str) -> str:
    """Each file whole when its share of the budget allows, else a window around the failure's lines."""
    blocks: list[str] = []
    remaining = FILES_BUDGET
    for index, code in enumerate(files):
        share = remaining // (len(files) - index)
        block = _file_block(code, _failure_lines(code.path, failure_summary), share)
        remaining -= len(block)
        blocks.append(block)
    return "\n\n".join(blocks)


def _failure_lines(path: str, failure_summary: str) -> list[int]:
    return [int(n) for n in re.findall(rf"(?<![\w/.]){re.escape(path)}:(\d+)", failure_summary)]


def _file_block(code: CodeFile, focus: list[int], budget: int) -> str:
    lines = code.text.splitlines()
    if len(code.text) <= budget:
        return f"`{code.path}`:\n{fence(code.text, lang_of(code.path))}"
    first, last = _window(lines, focus[0] if focus else 1, budget)
    body = "\n".join(lines[first - 1 : last])
    return f"`{code.path}` (lines {first}-{last} of {len(lines)}):\n{fence(body, lang_of(code.path))}"


def _window(lines: list[str], center: int, budget: int) -> tuple[int, int]:
    """The widest run of lines around `center` (1-based) that fits in `budget` characters."""
    center = min(max(center, 1), max(len(lines), 1))
    first = last = center
    used = len(lines[center - 1]) + 1 if lines else 0
    grew = True
    while grew:
        grew = False
        for step in (-1, 1):
            edge = first - 1 if step < 0 else last + 1
            if 1 <= edge <= len(lines) and used + len(lines[edge - 1]) + 1 <= budget:
                used += len(lines[edge - 1]) + 1
                first, last = min(first, edge), max(last, edge)
                grew = True
    return first, last
