"""Chat texts for the sandbox's results: tables, files, updated modules, commits, status; checks and patches
as their bounded summaries (`sandbox.summary`)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from pydantic import BaseModel

from bridge.protocol import fenced
from sandbox.models import ApplyResult, CheckResult, CodeFile, CommitResult, FetchResult, FileEntry, Preflight, Sandwich, UndoResult, WorkspaceStatus
from sandbox.summary import DEFAULT_BUDGET, summarize_apply, summarize_check, summarize_fetch, summarize_preflight, undeclared_note
from sandbox.text import trimmed

if TYPE_CHECKING:
    from bridge.journal import RoleUsage

LANGS = {".rs": "rust", ".toml": "toml", ".md": "markdown", ".py": "python", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}


def lang_of(path: str) -> str:
    return LANGS.get(PurePosixPath(path).suffix, "")


def fence(text: str, info: str = "") -> str:
    """A fenced block whose fence is longer than any backtick run inside the text."""
    return fenced(text.rstrip("\n"), info)


def text_of(result: object, *, cap: int = 7500, budget: int = DEFAULT_BUDGET) -> str:
    """Any operation's result as chat text: `cap` characters for file contents, `budget` for a summary."""
    if isinstance(result, list) and all(isinstance(entry, FileEntry) for entry in result):
        return files_table(result)
    if isinstance(result, CodeFile):
        return code_file(result, cap)
    if isinstance(result, Sandwich):
        return sandwich_text(result, cap)
    if isinstance(result, CheckResult):
        return summarize_check(result, budget=budget)
    if isinstance(result, ApplyResult):
        return summarize_apply(result, budget=budget)
    if isinstance(result, Preflight):
        return summarize_preflight(result, budget=budget)
    if isinstance(result, FetchResult):
        return summarize_fetch(result, budget=budget)
    if isinstance(result, CommitResult):
        return commit_text(result)
    if isinstance(result, UndoResult):
        return undo_text(result)
    if isinstance(result, WorkspaceStatus):
        return status_text(result, None)
    shown = result.model_dump_json(indent=2) if isinstance(result, BaseModel) else repr(result)
    return fence(trimmed(shown, cap), "json")


def files_table(entries: list[FileEntry], cap: int = 200) -> str:
    if not entries:
        return "No files match."
    rows = [f"| {e.file_id} | {e.path} | {e.size} |" for e in entries[:cap]]
    more = f"\n… +{len(entries) - cap} more (narrow with `@agent code files #glob`)" if len(entries) > cap else ""
    return f"{len(entries)} file(s):\n\n| file_id | path | bytes |\n|---:|---|---:|\n" + "\n".join(rows) + more


def code_file(code: CodeFile, max_chars: int) -> str:
    header = f"file_id={code.file_id} `{code.path}`"
    text = code.text
    if len(text) <= max_chars:
        return f"{header}:\n{fence(text, lang_of(code.path))}"
    lines = text.splitlines()
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > max_chars:
            break
        kept.append(line)
        used += len(line) + 1
    note = f"[… {len(lines) - len(kept)} more lines; ask for a region or a sandwich]"
    return f"{header} (first {len(kept)} of {len(lines)} lines):\n{fence(chr(10).join(kept), lang_of(code.path))}\n{note}"


def capped_diff(diff: str, room: int) -> str:
    """Whole hunks of a unified diff, in order, while they fit in `room` characters (a fenced block); the first one
    cut at a line when even it does not fit; "" when nothing useful fits."""
    if room < 120 or not diff:
        return ""
    kept: list[str] = []
    used = len("```diff\n\n```") + 40
    hunk: list[str] = []
    for line in [*diff.splitlines(), "@@"]:
        if line.startswith(("@@", "--- ")) and hunk:
            size = sum(len(h) + 1 for h in hunk)
            if used + size > room:
                if not any(k.startswith("@@") for k in kept):  # not one hunk fits: its first lines
                    for part in hunk:
                        if used + len(part) + 1 > room:
                            break
                        kept.append(part)
                        used += len(part) + 1
                kept.append("… (more changes: see the files)")
                break
            kept += hunk
            used += size
            hunk = []
        hunk.append(line)
    return fence("\n".join(kept), "diff") if any(k.startswith("@@") for k in kept) else ""


def updated_post(applied: ApplyResult, check_summary: str, note: str, budget: int) -> str:
    """A landed patch within `budget` characters: which files with their +/- line counts, as many changed hunks as fit,
    how to get a whole file, and the check's summary."""
    paths = [*applied.changed, *applied.created, *applied.deleted]
    stat = ", ".join(f"`{p}` +{added} −{removed}" for p, (added, removed) in applied.stat.items()) or ", ".join(paths)
    if paths:
        head = f"Updated {', '.join(paths[:3])}{f' +{len(paths) - 3} more' if len(paths) > 3 else ''}{note}: {stat}"
    else:  # applied before a restart: the files are known to the workspace, not to this result
        head = f"Updated the workspace{note} (the patch was applied before a restart; `@agent status` lists its files)"
    tail = []
    if applied.build_sensitive:
        tail.append("Note: this patch edits files that run code at build time: " + ", ".join(applied.build_sensitive))
    if applied.undeclared:
        tail.append(undeclared_note(applied.undeclared))
    if applied.changed or applied.created:
        tail.append(f"Whole file: `@agent code get path={(applied.changed + applied.created)[0]}`")
    tail.append(check_summary)
    hunks = capped_diff(applied.diff, budget - len(head) - sum(len(t) + 2 for t in tail) - 2)
    return "\n\n".join([head, *([hunks] if hunks else []), *tail])


def sandwich_text(sandwich: Sandwich, max_chars: int) -> str:
    saved = f" (saved as {PurePosixPath(sandwich.saved_to).name})" if sandwich.saved_to else ""
    head = f"Sandwich of {len(sandwich.paths)} file(s){saved}: " + ", ".join(sandwich.paths)
    return f"{head}\n{fence(trimmed(sandwich.text, max_chars))}"


def commit_text(result: CommitResult) -> str:
    subject = result.message.splitlines()[0]
    return f"Committed {result.sha[:10]}: {subject} ({len(result.files)} file(s): {', '.join(result.files[:8])})"


def undo_text(result: UndoResult) -> str:
    files = f": {', '.join(result.files[:8])}" if result.files else ""
    return f"Undone ({result.undone}): {result.detail}{files}"


def status_text(status: WorkspaceStatus, task: str | None) -> str:
    pending = ", ".join(status.pending[:10]) or "none"
    lines = [
        f"Workspace of {status.project} on branch {status.branch} at {status.head[:10]} (isolation: {status.isolation})",
        f"Pending changes: {pending}" + (f" (+{len(status.pending) - 10} more)" if len(status.pending) > 10 else ""),
        f"Undoable patches: {status.patches}; MCP commits: {status.mcp_commits}",
        f"Task: {task or 'none'}",
    ]
    return "\n".join(lines)


def roles_usage_text(usage: list[RoleUsage]) -> str:
    """Each agent role's API calls and tokens in a chat, on one line."""
    if not usage:
        return "Roles: none called in this chat"
    parts = [
        f"@{u.role} {u.calls} call(s)" + (f" ({u.failed} failed)" if u.failed else "")
        + f", {u.prompt_tokens + u.completion_tokens} tokens ({u.prompt_tokens} in, {u.completion_tokens} out)"
        for u in usage
    ]
    return "Roles in this chat: " + "; ".join(parts)
