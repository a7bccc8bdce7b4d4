"""From a chat message to MCP's replies: parse, authorize, execute, fix up to N times, escalate.

Replies are not posted here: they go to the journal's outbox in the same transaction that marks
the command finished, and a poster (the bridge or the CLI) delivers them.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from loguru import logger

from bridge import protocol, replies
from bridge.attempts import Attempt, try_patch
from bridge.config import Settings
from bridge.journal import CommandRow, CommandStatus, Journal, Post, TaskRow
from bridge.llm import LLMClient, LLMError
from bridge.models import ChatMessage, Command, Reply, ReplyKind, Role
from bridge.policy import Policy, carries_patch
from bridge.prompts import fix_prompt
from sandbox.errors import SandboxError
from sandbox.executor import Executor
from sandbox.models import ApplyResult, CodeFile
from sandbox.operations import (
    CheckCompileRequest,
    CheckDegradationRequest,
    CheckTestRequest,
    CommitRequest,
    FilesRequest,
    GetCodeRequest,
    SandwichRequest,
    StatusRequest,
    UndoRequest,
    build,
)
from sandbox.redact import redact
from sandbox.summary import summarize_check

AUTHORS_KEY = "pending_authors"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MUTATING = {"code improvement", "commit", "undo"}


class Orchestrator:
    """Runs commands through an Executor; keeps tasks, attempts and the outbox in the journal."""

    def __init__(
        self,
        executor: Executor,
        journal: Journal,
        settings: Settings,
        llm: LLMClient | None = None,
        *,
        dry_run: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.executor = executor
        self.journal = journal
        self.settings = settings
        self.llm = llm
        self.dry_run = dry_run
        self.clock = clock
        rules = settings.rules
        self.policy = Policy(
            dict(rules.permissions),
            journal,
            flood_per_minute=rules.flood_per_minute,
            loop_limit=rules.loop_limit,
            clock=clock,
        )

    @property
    def mode(self) -> str:
        return "api" if self.llm is not None else "chat"

    # entry points ---------------------------------------------------------------------
    def is_mcp(self, message: ChatMessage) -> bool:
        return (
            message.role == "mcp"
            or protocol.is_mcp_post(message.text)
            or self.journal.is_our_post(message.chat_id, message.text, protocol.post_ref(message.text))
        )

    def handle(self, message: ChatMessage) -> None:
        """Record a complete message once and run its commands."""
        chat = message.chat_id
        if self.journal.seen(chat, message.id):
            return
        if self.is_mcp(message):
            self.journal.record_message(message.model_copy(update={"role": "mcp"}), [])
            return
        parsed = protocol.parse(message)
        with self.journal.tx():
            if not self.journal.record_message(message, parsed.commands):
                return
            if message.role == "developer":
                self.policy.note_developer(chat)
            for issue in parsed.issues:
                self._queue(chat, message.id, Reply(text=issue.reason, kind="error"))
        if parsed.commands:
            logger.info(f"message {message.id} from {message.role}: {', '.join(c.verb for c in parsed.commands)}")
        self.run_pending(chat)

    def run_pending(self, chat_id: str) -> None:
        """Run every recorded, unfinished command of a chat in order (also after a restart)."""
        for row in self.journal.unfinished_commands(chat_id):
            self._execute(row)

    def tick(self) -> None:
        """Escalate chat-mode tasks whose fix request got no patch in time."""
        timeout = self.settings.chat.answer_timeout
        for task in self.journal.waiting_tasks():
            if task.waiting_since is not None and self.clock() - task.waiting_since > timeout:
                self.journal.update_task(task.id, status="escalated", waiting_since=None)
                text = (
                    f"no corrected patch from the assistant within {int(timeout)} s for: {task.request}\n"
                    f"Last failure ({task.attempts} fix attempt(s) so far):\n{task.last_summary}"
                )
                self._queue(task.chat_id, None, Reply(text=text, kind="escalation"))

    # execution ------------------------------------------------------------------------
    def _execute(self, row: CommandRow) -> None:
        cmd, role, chat = row.command, row.role, row.chat_id
        resumed = row.status == "running"
        if not resumed:
            refusal = self.policy.refusal(chat, role, cmd)
            if refusal:
                logger.warning(f"refused {cmd.verb} from {role}: {refusal}")
                kind: ReplyKind = "escalation" if refusal.startswith("loop guard") else "error"
                told = self.journal.replied_with(chat, row.msg_id, redact(refusal))  # one notice per message and reason
                self._finish(row, "refused", [] if told else [Reply(text=refusal, kind=kind)])
                return
            with self.journal.tx():
                self.journal.set_stage(row.id, "started")
                self.policy.note_execution(chat, role)
        else:
            nature = "an effect, resumed from its stage" if cmd.verb in MUTATING else "read-only, run again"
            logger.warning(f"command {row.id} ({cmd.verb}) was interrupted at stage '{row.stage}' by a restart: {nature}")
            if cmd.verb == "undo" and row.stage == "undoing":
                self._finish(row, "done", [Reply(text="`undo` was interrupted by a restart and is not repeated; check `@agent status`.", kind="error")])
                return
        started = time.monotonic()
        try:
            out = self._dispatch(row, resumed)
        except SandboxError as exc:
            out = [Reply(text=f"`{cmd.verb}` failed: {exc}", kind="error")]
        except Exception as exc:  # a bug must not stop the bridge; the log has the trace
            logger.exception(f"command {cmd.verb} crashed: {exc}")
            out = [Reply(text=f"`{cmd.verb}` failed with an internal error ({type(exc).__name__}); see the bridge log.", kind="error")]
        logger.info(f"{cmd.verb} from {role} done in {time.monotonic() - started:.1f}s")
        self._finish(row, "done", out)

    def _finish(self, row: CommandRow, status: CommandStatus, out: list[Reply]) -> None:
        posts = [p for r in out for p in self._render(r, row.msg_id)]
        self.journal.finish_command(row.id, status, posts)

    def _render(self, reply: Reply, in_reply_to: str | None) -> list[Post]:
        """A reply as signed, bounded, redacted posts, each with a fresh ref."""
        ref = uuid.uuid4().hex[:10]
        text = redact(reply.text)
        parts = protocol.format_post(reply.model_copy(update={"text": text}), limit=self.settings.replies.max_chars, ref=ref)
        refs = [ref] if len(parts) == 1 else [f"{ref}-{i}" for i in range(1, len(parts) + 1)]
        return [Post(in_reply_to=in_reply_to, kind=reply.kind, text=p, ref=r) for p, r in zip(parts, refs, strict=True)]

    def _queue(self, chat_id: str, in_reply_to: str | None, reply: Reply) -> None:
        self.journal.queue_replies(chat_id, self._render(reply, in_reply_to))

    def _dispatch(self, row: CommandRow, resumed: bool) -> list[Reply]:
        cmd = row.command
        budget = self.settings.replies.summary_budget
        cap = self.settings.replies.max_chars - 500
        ex = self.executor
        match cmd.verb:
            case "help":
                return [Reply(text=protocol.help_text())]
            case "code files":
                glob = cmd.params.get("glob") or next(iter(cmd.meta), None)
                return [Reply(text=replies.files_table(ex.run(FilesRequest(glob=glob))))]
            case "code get":
                code = ex.run(GetCodeRequest(file_id=_int(cmd.params.get("file_id")), path=cmd.params.get("path")))
                return [Reply(text=replies.code_file(code, cap))]
            case "code sandwich":
                ids = [int(i) for i in cmd.params.get("file_id", "").replace(" ", "").split(",") if i.isdigit()]
                return [Reply(text=replies.sandwich_text(ex.run(SandwichRequest(file_ids=ids)), cap))]
            case "code improvement":
                return self._improvement(row, resumed)
            case "code test":
                return self._test(row)
            case "check compile":
                return [Reply(text=summarize_check(ex.run(CheckCompileRequest()), budget=budget))]
            case "check logic":
                return [Reply(text=summarize_check(ex.run(CheckTestRequest(filter=_filter(cmd))), budget=budget))]
            case "check degradation":
                return [Reply(text=summarize_check(ex.run(CheckDegradationRequest()), budget=budget))]
            case "commit":
                return self._commit(row)
            case "undo":
                self.journal.set_stage(row.id, "undoing")
                return [Reply(text=replies.undo_text(ex.run(UndoRequest())))]
            case "status":
                task = self.journal.open_task(row.chat_id)
                desc = f"#{task.id} {task.kind}: {task.request} (fix attempts {task.attempts}/{self.settings.rules.max_attempts})" if task else None
                return [Reply(text=replies.status_text(ex.run(StatusRequest()), desc) + f"\nMode: {self.mode}")]
        return [Reply(text=f"`{cmd.verb}` is not supported", kind="error")]

    # commit -----------------------------------------------------------------------------
    def _commit(self, row: CommandRow) -> list[Reply]:
        cmd, chat = row.command, row.chat_id
        message = cmd.params.get("msg") or _plain_data(cmd) or "update from the chat"
        authors = self.journal.get(chat, AUTHORS_KEY, [])
        role: Role = "assistant" if "assistant" in authors else "developer"
        author = self.settings.identities.identity(role)
        if self.dry_run:
            return [Reply(text=f"[dry run] would commit as {author}: {message}")]
        link = {"chat_id": chat or "local", "message_id": row.msg_id, "url": self.settings.chat.url}
        request = build(CommitRequest, message=message, author=author, chat=link)
        self.journal.set_stage(row.id, "committing")
        result = self.executor.run(request)  # a commit made before a crash is recognised by its message id
        self.journal.put(chat, AUTHORS_KEY, [])
        return [Reply(text=replies.commit_text(result))]

    # patches and tests ----------------------------------------------------------------
    def _improvement(self, row: CommandRow, resumed: bool) -> list[Reply]:
        cmd, chat = row.command, row.chat_id
        if not carries_patch(cmd):
            logger.info(f"vibe recorded for the assistant: {cmd.params.get('vibe', cmd.data or '')[:120]}")
            return []
        payload = protocol.payload_of(cmd)
        file_id = _int(cmd.params.get("file_id"))
        task = self.journal.open_task(chat)
        answering = task is not None and task.waiting_since is not None and row.role == "assistant"
        if not (answering and task is not None):
            task = None
        self.journal.set_stage(row.id, "applying", task.id if task else None)
        attempt = try_patch(
            self.executor,
            payload,
            file_id=file_id if file_id is not None or task is None else task.file_id,
            test_filter=task.filter if task else None,
            budget=self.settings.replies.summary_budget,
            skip_apply=resumed and row.stage == "applied",
            accept_applied=resumed,
        )
        if attempt.applied.ok:
            self.journal.set_stage(row.id, "applied")
        if task is not None:
            return self._after_chat_attempt(task, attempt, row.role)
        if attempt.ok:
            return self._success(chat, attempt, row.role, note="")
        if attempt.applied.already_applied:
            return [Reply(text="Nothing to do: " + attempt.summary)]
        target = f" file_id={file_id}" if file_id is not None else ""
        request = f"the patch{target} from the {row.role}"
        new = self.journal.start_task(chat, "patch", request, file_id=file_id, target=_first(attempt.applied))
        return self._fix(new, attempt.summary, payload)

    def _test(self, row: CommandRow) -> list[Reply]:
        cmd, chat = row.command, row.chat_id
        test_filter = _filter(cmd)
        result = self.executor.run(CheckTestRequest(filter=test_filter))
        summary = summarize_check(result, budget=self.settings.replies.summary_budget)
        if result.ok:
            return [Reply(text=summary)]
        request = f"make `cargo test {test_filter}` pass" if test_filter else "make `cargo test` pass"
        task = self.journal.start_task(chat, "test", request, filter=test_filter)
        return [Reply(text=summary)] + self._fix(task, summary, None)

    def _success(self, chat: str, attempt: Attempt, role: str, note: str) -> list[Reply]:
        authors = self.journal.get(chat, AUTHORS_KEY, [])
        self.journal.put(chat, AUTHORS_KEY, sorted(set(authors) | {role}))
        applied = attempt.applied
        paths = applied.changed + applied.created
        parts: list[str] = []
        cap = min(self.settings.replies.module_chars, max(500, (self.settings.replies.max_chars - 1500) // max(1, len(paths))))
        for path in paths[:3]:
            code = self.executor.run(GetCodeRequest(path=path))
            parts.append(f"Updated {path}{note}:\n" + replies.updated_module(code, applied.regions.get(path), cap))
        if applied.deleted:
            parts.append("Deleted: " + ", ".join(applied.deleted))
        if applied.build_sensitive:
            parts.append("Note: this patch edits files that run code at build time: " + ", ".join(applied.build_sensitive))
        parts.append(attempt.summary)
        return [Reply(text="\n\n".join(parts), kind="broadcast")]

    def _fix(self, task: TaskRow, summary: str, payload: str | None) -> list[Reply]:
        """A failure opened `task`: fix it through the LLM API, or ask the chat's assistant."""
        self.journal.update_task(task.id, last_summary=summary)
        if self.llm is None:
            return [self._request_fix(task, summary, 0)]
        last = summary
        failed_payload = payload
        for attempt_no in range(1, self.settings.rules.max_attempts + 1):
            try:
                answer = self.llm.complete(fix_prompt(_task_text(task, failed_payload), last, self._context(task, last), attempt_no))
            except LLMError as exc:
                self.journal.update_task(task.id, status="escalated", attempts=attempt_no)
                return [Reply(text=f"{task.request}: the LLM could not be reached ({exc}).\nLast failure:\n{last}", kind="escalation")]
            attempt = try_patch(
                self.executor, answer, file_id=task.file_id, test_filter=task.filter, budget=self.settings.replies.summary_budget
            )
            self.journal.update_task(task.id, attempts=attempt_no, last_summary=attempt.summary)
            logger.info(f"task #{task.id} fix attempt {attempt_no}: {'ok' if attempt.ok else 'failed'}")
            if attempt.ok:
                self.journal.update_task(task.id, status="succeeded")
                return self._success(task.chat_id, attempt, "assistant", note=f" (fixed by the LLM on attempt {attempt_no})")
            last, failed_payload = attempt.summary, answer
        self.journal.update_task(task.id, status="escalated")
        return [Reply(text=_escalation(task, self.settings.rules.max_attempts, last), kind="escalation")]

    def _after_chat_attempt(self, task: TaskRow, attempt: Attempt, role: str) -> list[Reply]:
        attempts = task.attempts + 1
        if attempt.ok:
            self.journal.update_task(task.id, status="succeeded", attempts=attempts, waiting_since=None)
            return self._success(task.chat_id, attempt, role, note=f" (fix attempt {attempts})")
        limit = self.settings.rules.max_attempts
        if attempts >= limit:
            self.journal.update_task(task.id, status="escalated", attempts=attempts, waiting_since=None, last_summary=attempt.summary)
            return [Reply(text=_escalation(task, limit, attempt.summary), kind="escalation")]
        self.journal.update_task(task.id, attempts=attempts, last_summary=attempt.summary)
        return [self._request_fix(task, attempt.summary, attempts)]

    def _request_fix(self, task: TaskRow, summary: str, attempts: int) -> Reply:
        self.journal.update_task(task.id, waiting_since=self.clock())
        limit = self.settings.rules.max_attempts
        target = f" file_id={task.file_id}" if task.file_id is not None else ""
        text = (
            f"{task.request} failed (fix attempt {attempts}/{limit} used):\n{summary}\n\n"
            f"Please reply with a corrected patch: `@agent code improvement{target}` followed by a ```diff block."
        )
        return Reply(text=text, kind="request")

    def _context(self, task: TaskRow, summary: str) -> list[CodeFile]:
        """The files a fix needs: the task's file and the files the failure names."""
        files: list[CodeFile] = []
        seen: set[str] = set()
        candidates: list[tuple[int | None, str | None]] = [(task.file_id, None)] if task.file_id is not None else []
        candidates += [(None, p) for p in protocol.paths_in(summary)]
        for file_id, path in candidates[:4]:
            try:
                code = self.executor.run(GetCodeRequest(file_id=file_id, path=path))
            except SandboxError:
                continue
            if code.path not in seen:
                seen.add(code.path)
                files.append(code)
        return files


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


def _filter(cmd: Command) -> str | None:
    """The test filter: `filter=` or the first #word that is not a date or a key=value."""
    return cmd.params.get("filter") or next((m for m in cmd.meta if "=" not in m and not DATE.fullmatch(m)), None)


def _plain_data(cmd: Command) -> str:
    """Data that is not a `key:` item (an empty `[msg:]` gives nothing)."""
    data = (cmd.data or "").strip()
    return "" if re.fullmatch(r"(?i)(msg|vibe)\s*:\s*", data) else data


def _first(applied: ApplyResult) -> str | None:
    paths = applied.changed + applied.created
    return paths[0] if paths else None


def _task_text(task: TaskRow, payload: str | None) -> str:
    return task.request + (f"\n\nThe patch that failed:\n{payload}" if payload else "")


def _escalation(task: TaskRow, limit: int, summary: str) -> str:
    return f"{task.request}: still failing after {limit} fix attempts.\nLast failure:\n{summary}"
