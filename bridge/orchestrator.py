"""From a chat message to the bot's replies, one way: intake → the verb's handler → the poster.

The journal is written at the boundaries: the message and its commands when they are recorded
(`Intake`), a command's start (and the stages its handler reaches before an effect), and its end
together with its replies (`Poster.finish`). After a restart, `run_pending` goes on with every
recorded command that did not finish: a read-only one runs again, one with an effect resumes from
its stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from loguru import logger

from bridge.config import Settings
from bridge.fixloop import FixLoop
from bridge.handlers import Call, Services, handler_of
from bridge.intake import Intake
from bridge.journal import CommandRow, Journal
from bridge.llm import LLMClient
from bridge.models import ChatMessage, Reply, ReplyKind
from bridge.policy import Policy
from bridge.poster import Poster
from bridge.protocol import ArgumentError, arguments
from bridge.protocol.verbs import find
from bridge.roles.calls import RoleCalls
from bridge.roles.critics import Critics
from bridge.roles.run import RoleRunner
from sandbox.errors import SandboxError
from sandbox.executor import Executor
from sandbox.models import Preflight
from sandbox.operations import PreflightRequest
from sandbox.summary import summarize_preflight
from sandbox.redact import redact


class Orchestrator:
    """Runs the commands of chat messages through an Executor; tasks, attempts and the outbox live in the journal."""

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
        self.dry_run = dry_run
        self.clock = clock
        rules = settings.rules
        self.roles = settings.role_verbs()
        self.policy = Policy(
            {**rules.permissions, **{tag: verb.roles for tag, verb in self.roles.items()}}, journal,
            flood_per_minute=rules.flood_per_minute, loop_limit=rules.loop_limit, clock=lambda: self.clock(),
        )
        self.poster = Poster(journal, settings.replies.max_chars)
        self.intake = Intake(journal, self.poster, self.policy, self.roles)
        calls = RoleCalls(settings, journal, clock=lambda: self.clock())
        critics = Critics(executor, journal, settings, calls, self.policy)
        self.fixes = FixLoop(executor, journal, settings, llm, clock=lambda: self.clock(), reviewer=critics)
        runner = RoleRunner(executor, journal, settings, calls, self.fixes)
        self.services = Services(executor, journal, settings, self.fixes, runner, dry_run, "api" if llm is not None else "chat")

    def is_own_post(self, message: ChatMessage) -> bool:
        return self.intake.is_own_post(message)

    def handle(self, message: ChatMessage) -> None:
        """Record a complete message once and run its commands."""
        self.intake.take(message)
        self.run_pending(message.chat_id)

    def run_pending(self, chat_id: str) -> None:
        """Run every recorded, unfinished command of a chat in order (also after a restart)."""
        for row in self.journal.unfinished_commands(chat_id):
            self._run(row)

    def preflight(self) -> Preflight | None:
        """The environment check (`check environment`); None when the sandbox could not run it (logged)."""
        try:
            return self.executor.run(PreflightRequest())
        except SandboxError as exc:
            logger.warning(f"the environment check at attach failed: {exc}")
            return None

    def tell_preflight(self, chat_id: str, found: Preflight) -> None:
        """Tell the developer, once per base commit, what the environment lacks before any patch is judged."""
        logger.info(f"environment check at attach: {'ok' if found.ok else 'problems'} ({len(found.warnings)} warning(s))")
        key = f"preflight:{found.base.base_commit}"
        if found.ok or self.journal.get(chat_id, key, False):
            return
        self.journal.put(chat_id, key, True)
        text = summarize_preflight(found, budget=self.settings.replies.summary_budget)
        self.poster.queue(chat_id, None, Reply(text=text, kind="escalation"))

    def tick(self) -> None:
        """Escalate the tasks whose fix request got no patch in time."""
        for chat_id, reply in self.fixes.expired():
            self.poster.queue(chat_id, None, reply)

    def _run(self, row: CommandRow) -> None:
        cmd, role, chat = row.command, row.role, row.chat_id
        verb = find(cmd.verb, self.roles)
        resumed = row.status == "running"
        if not resumed:
            refusal = self.policy.refusal(chat, role, cmd)
            if refusal:
                logger.warning(f"refused {cmd.verb} from {role}: {refusal}")
                kind: ReplyKind = "escalation" if refusal.startswith("loop guard") else "error"
                told = self.journal.replied_with(chat, row.msg_id, redact(refusal))  # one notice per message and reason
                self.poster.finish(row, "refused", [] if told else [Reply(text=refusal, kind=kind)])
                return
            with self.journal.tx():
                self.journal.set_stage(row.id, "started")
                self.policy.note_execution(chat, role)
        else:
            nature = "an effect, resumed from its stage" if verb is not None and verb.mutates else "read-only, run again"
            logger.warning(f"command {row.id} ({cmd.verb}) was interrupted at stage '{row.stage}' by a restart: {nature}")
        started = time.monotonic()
        try:
            if verb is None:
                out = [Reply(text=f"`{cmd.verb}` is not supported", kind="error")]
            else:
                out = handler_of(verb)(Call(row, verb, arguments(verb, cmd), resumed, self.services))
        except (SandboxError, ArgumentError) as exc:
            out = [Reply(text=f"`{cmd.verb}` failed: {exc}", kind="error")]
        except Exception as exc:  # a bug must not stop the bridge; the log has the trace
            logger.exception(f"command {cmd.verb} crashed: {exc}")
            out = [Reply(text=f"`{cmd.verb}` failed with an internal error ({type(exc).__name__}); see the bridge log.", kind="error")]
        logger.info(f"{cmd.verb} from {role} done in {time.monotonic() - started:.1f}s")
        self.poster.finish(row, "done", out)
