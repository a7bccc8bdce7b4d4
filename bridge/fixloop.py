"""Three tries, then escalate: a failing patch or test opens a task with at most `max_attempts` fixes.

With a `Fixer` (the LLM API of fix mode, or the agent role whose patch failed) the fixes are asked for
and tried here, in a row; without one the assistant in the chat is asked, and its next patches for
the task come back through `answer`, each one an attempt. Every patch that lands is announced, and
handed to the `Reviewer` (the critic, while the developer allows critics).
A task waiting longer than `chat.answer_timeout` for the assistant is escalated by `expired`.
The fix loop works from the failure itself (`Attempt`: the refusal or the `CheckResult`), so the
files a fix is shown are the ones the failure names, not paths read back out of a summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from loguru import logger

from bridge import authorship, replies
from bridge.attempts import Attempt, try_patch
from bridge.config import Settings
from bridge.journal import Journal, TaskRow
from bridge.llm import LLMClient, LLMError
from bridge.models import Reply
from bridge.prompts import SYSTEM, fix_prompt
from sandbox.errors import SandboxError
from sandbox.executor import Executor
from sandbox.models import CodeFile
from sandbox.operations import GetCodeRequest

CONTEXT_FILES = 4
POST_FRAME = 60
"""Characters a post's address (`@all `) and signed reference line take."""


@dataclass(frozen=True)
class Fixer:
    """Who is asked for fixes through an API: its name in posts, the author its fixes are noted for, its system
    prompt, and the call (messages -> the answer's text; raises LLMError)."""

    name: str
    author: str
    system: str
    complete: Callable[[list[dict[str, str]]], str]


class Reviewer(Protocol):
    def landed(self, chat_id: str, attempt: Attempt, author: str) -> list[Reply]:
        """What to post about a patch that landed and passed its checks, after its announcement (often nothing)."""
        ...


class FixLoop:
    """Tasks, attempts and escalations, kept in the journal's tasks table."""

    def __init__(
        self,
        executor: Executor,
        journal: Journal,
        settings: Settings,
        llm: LLMClient | None,
        clock: Callable[[], float],
        reviewer: Reviewer | None = None,
    ) -> None:
        self.executor = executor
        self.journal = journal
        self.settings = settings
        self.fixer = Fixer("the LLM", "assistant", SYSTEM, lambda messages: llm.complete(messages).text) if llm is not None else None
        self.clock = clock
        self.reviewer = reviewer
        self.limit = settings.rules.max_attempts
        self.budget = settings.replies.summary_budget

    def open(self, chat_id: str, kind: str, request: str, failure: Attempt, *, payload: str | None = None,
             file_id: int | None = None, test_filter: str | None = None, fixer: Fixer | None = None) -> list[Reply]:
        """A failure starts a task: fixed by `fixer` (default: the LLM API when configured), or the assistant is asked;
        a failure through the environment is the developer's at once (no task)."""
        if failure.environment:  # not the patch's fault: no task, no fix attempt, nothing asked of anyone
            return [Reply(text=failure.summary, kind="escalation")]
        fixer = fixer or self.fixer
        waiting = self.clock() if fixer is None else None
        task = self.journal.start_task(
            chat_id, kind, request, file_id=file_id, filter=test_filter, last_summary=failure.summary, waiting_since=waiting
        )
        if fixer is None:
            return [self._ask(task, failure.summary, 0)]
        return self._fix_with(fixer, task, failure, payload)

    def answer(self, task: TaskRow, attempt: Attempt, author: str) -> list[Reply]:
        """A patch the assistant sent for a waiting task: one attempt, counted (one blocked by the environment
        escalates the task without counting)."""
        if attempt.environment:  # the task waits on the developer now, not on the assistant; no attempt counted
            self.journal.update_task(task.id, status="escalated", waiting_since=None, last_summary=attempt.summary)
            return [Reply(text=attempt.summary, kind="escalation")]
        attempts = task.attempts + 1
        if attempt.ok:
            self.journal.update_task(task.id, status="succeeded", attempts=attempts, waiting_since=None)
            return self.announce(task.chat_id, attempt, author, note=f" (fix attempt {attempts})")
        if attempts >= self.limit:
            self.journal.update_task(task.id, status="escalated", attempts=attempts, waiting_since=None, last_summary=attempt.summary)
            return [Reply(text=_escalation(task, self.limit, attempt.summary), kind="escalation")]
        self.journal.update_task(task.id, attempts=attempts, last_summary=attempt.summary, waiting_since=self.clock())
        return [self._ask(task, attempt.summary, attempts)]

    def expired(self) -> list[tuple[str, Reply]]:
        """(chat, escalation) for every task whose fix request got no patch within `chat.answer_timeout`."""
        timeout = self.settings.chat.answer_timeout
        out = []
        for task in self.journal.waiting_tasks():
            if task.waiting_since is not None and self.clock() - task.waiting_since > timeout:
                self.journal.update_task(task.id, status="escalated", waiting_since=None)
                text = (
                    f"no corrected patch from the assistant within {int(timeout)} s for: {task.request}\n"
                    f"Last failure ({task.attempts} fix attempt(s) so far):\n{task.last_summary}"
                )
                out.append((task.chat_id, Reply(text=text, kind="escalation")))
        return out

    def announce(self, chat_id: str, attempt: Attempt, author: str, note: str = "") -> list[Reply]:
        """A patch that landed and passed, to everyone: the new module (or its changed region) and the check;
        then what the reviewer has to say about it."""
        applied = attempt.applied
        assert applied is not None and applied.ok, "only an applied patch is announced"
        authorship.note(self.journal, chat_id, author)
        budget = self.settings.replies.post_chars - POST_FRAME
        post = Reply(text=replies.updated_post(applied, attempt.summary, note, budget), kind="broadcast")
        review = self.reviewer.landed(chat_id, attempt, author) if self.reviewer is not None else []
        return [post, *review]

    # the two ways to fix ------------------------------------------------------------------------
    def _ask(self, task: TaskRow, summary: str, used: int) -> Reply:
        target = f" file_id={task.file_id}" if task.file_id is not None else ""
        text = (
            f"{task.request} failed (fix attempt {used}/{self.limit} used):\n{summary}\n\n"
            f"Please reply with a corrected patch: `@agent code improvement{target}` followed by a ```diff block."
        )
        return Reply(text=text, kind="request")

    def _fix_with(self, fixer: Fixer, task: TaskRow, failure: Attempt, payload: str | None) -> list[Reply]:
        last, failed_payload = failure, payload
        for number in range(1, self.limit + 1):
            asked = task.request + (f"\n\nThe patch that failed:\n{failed_payload}" if failed_payload else "")
            try:
                answer = fixer.complete(fix_prompt(asked, last.summary, self._files(task, last), number, system=fixer.system))
            except LLMError as exc:
                self.journal.update_task(task.id, status="escalated", attempts=number)
                text = f"{task.request}: no fix from {fixer.name} ({exc}).\nLast failure:\n{last.summary}"
                return [Reply(text=text, kind="escalation")]
            attempt = try_patch(self.executor, answer, file_id=task.file_id, test_filter=task.filter, budget=self.budget)
            if attempt.environment:  # the environment blocks every fix alike: the developer's to solve
                self.journal.update_task(task.id, status="escalated", attempts=number - 1, last_summary=attempt.summary)
                return [Reply(text=attempt.summary, kind="escalation")]
            logger.info(f"task #{task.id} fix attempt {number} by {fixer.name}: {'ok' if attempt.ok else 'failed'}")
            if attempt.ok:
                self.journal.update_task(task.id, status="succeeded", attempts=number, last_summary=attempt.summary)
                return self.announce(task.chat_id, attempt, fixer.author, note=f" (fixed by {fixer.name} on attempt {number})")
            self.journal.update_task(task.id, attempts=number, last_summary=attempt.summary)
            last, failed_payload = attempt, answer
        self.journal.update_task(task.id, status="escalated")
        return [Reply(text=_escalation(task, self.limit, last.summary), kind="escalation")]

    def _files(self, task: TaskRow, failure: Attempt) -> list[CodeFile]:
        """The files a fix needs: the task's file, the files the failure's diagnostics and failed tests name, the patched ones."""
        wanted: list[dict[str, Any]] = [{"file_id": task.file_id}] if task.file_id is not None else []
        check = failure.check
        named = [d.file for d in check.diagnostics] + [t.file for t in check.failed_tests] if check is not None else []
        applied = failure.applied
        named += (applied.changed + applied.created) if applied is not None else []
        wanted += [{"path": path} for path in dict.fromkeys(p for p in named if p)]
        files: dict[str, CodeFile] = {}
        for fields in wanted:
            if len(files) == CONTEXT_FILES:
                break
            try:
                code = self.executor.run(GetCodeRequest(**fields))
            except (SandboxError, ValueError):  # a path outside the project, a file gone since: not context
                continue
            files.setdefault(code.path, code)
        return list(files.values())


def _escalation(task: TaskRow, limit: int, summary: str) -> str:
    return f"{task.request}: still failing after {limit} fix attempts.\nLast failure:\n{summary}"
