"""The prompt that asks the LLM API for a corrected patch: the task, the failure, the current files."""

from __future__ import annotations

import re

from bridge.replies import fence, lang_of
from sandbox.models import CodeFile
from sandbox.text import trimmed

FILES_BUDGET = 24_000
TASK_BUDGET = 12_000
FAILURE_BUDGET = 6_000

SYSTEM = """You are fixing a Rust project (a cargo crate) so that it builds and its tests pass.
Answer ONLY with the edit, in fenced code blocks, no prose:
- a unified diff (```diff) with `--- a/<path>` / `+++ b/<path>` headers and exact context lines, or
- SEARCH/REPLACE blocks, each in a fence: the file's path on the first line, then
  <<<<<<< SEARCH
  (lines copied exactly from the current file)
  =======
  (their replacement)
  >>>>>>> REPLACE
Paths are relative to the project root. Keep the change minimal: fix the reported failure only;
do not reformat, rename or refactor anything else. Base the edit on the current files shown,
not on earlier versions."""


def fix_prompt(task: str, failure_summary: str, files: list[CodeFile], attempt: int) -> list[dict[str, str]]:
    """Chat messages asking for a patch that fixes `failure_summary`; files the failure names come first."""
    named = sorted(files, key=lambda f: f.path not in failure_summary)
    parts = [
        f"Task (fix attempt {attempt}):\n{trimmed(task, TASK_BUDGET)}",
        f"The build or tests fail:\n{fence(trimmed(failure_summary, FAILURE_BUDGET), 'text')}",
    ]
    if attempt > 1:
        parts.append("Earlier fixes for this task failed as shown above; do not repeat them.")
    if named:
        parts.append("Current files:\n\n" + _files(named, failure_summary))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


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
