"""One handler per `@agent` verb: a recorded command and its arguments in, the replies out.

A verb that runs one sandbox operation as it is (`Verb.operation`) needs no handler of its own:
`run_operation` runs it and renders its result; an agent role's tag (`Verb.role`) is run by the
roles' runner (`run_role`). The others are registered here with `@handles`.
A handler writes the journal only at the stages that matter after a crash (`Call.stage`); the
orchestrator records the command's start and, with its replies, its end.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from loguru import logger
from pydantic import BaseModel

from bridge import authorship, protocol, replies
from bridge.attempts import Attempt, try_patch
from bridge.config import Settings
from bridge.fixloop import FixLoop
from bridge.journal import CommandRow, Journal
from bridge.models import Command, Reply
from bridge.policy import carries_patch
from bridge.protocol.verbs import BY_NAME, CODE_TEST, COMMIT, HELP, IMPROVEMENT, CommitArguments, ImprovementArguments, Verb
from sandbox.executor import Executor
from sandbox.operations import CheckTestRequest, CommitRequest, Role, StatusRequest, build
from sandbox.summary import summarize_check

if TYPE_CHECKING:
    from bridge.roles.run import RoleRunner

EFFECT = "effect"
"""The stage of a mutating operation run as it is, set just before the operation starts."""


@dataclass(frozen=True)
class Services:
    """What handlers work with."""

    executor: Executor
    journal: Journal
    settings: Settings
    fixes: FixLoop
    roles: RoleRunner
    dry_run: bool
    mode: str


@dataclass(frozen=True)
class Call:
    """One recorded command being run: its row, its verb and arguments, and whether a restart interrupted it."""

    row: CommandRow
    verb: Verb
    args: BaseModel
    resumed: bool
    services: Services

    @property
    def cmd(self) -> Command:
        return self.row.command

    @property
    def chat_id(self) -> str:
        return self.row.chat_id

    @property
    def role(self) -> Role:
        return self.row.role

    def stage(self, name: str, task_id: int | None = None) -> None:
        """Record that the command reached `name` (before the effect the stage names)."""
        self.services.journal.set_stage(self.row.id, name, task_id)


Handler = Callable[[Call], list[Reply]]
HANDLERS: dict[str, Handler] = {}


def handles(verb: Verb) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[verb.name] = handler
        return handler

    return register


def handler_of(verb: Verb) -> Handler:
    found = HANDLERS.get(verb.name)
    if found is not None:
        return found
    if verb.operation is not None:
        return run_operation
    if verb.role is not None:
        return run_role
    raise LookupError(f"`{verb.name}` has no handler")


def run_operation(call: Call) -> list[Reply]:
    """A verb that is one sandbox operation: run it (once, if it mutates) and post its result."""
    verb = call.verb
    if verb.mutates:
        if call.resumed and call.row.stage not in ("", "started"):
            return [Reply(text=f"`{verb.name}` was interrupted by a restart and is not repeated; check `@agent status`.", kind="error")]
        call.stage(EFFECT)
    result = call.services.executor.run(cast(Any, call.args))
    settings = call.services.settings.replies
    return [Reply(text=replies.text_of(result, cap=settings.max_chars - 500, budget=settings.summary_budget))]


def run_role(call: Call) -> list[Reply]:
    """An agent role's tag: the role is asked, and what it produces is posted or applied and checked."""
    return call.services.roles.run(call)


# the verbs with more to them ----------------------------------------------------------------------
@handles(HELP)
def help_(call: Call) -> list[Reply]:
    return [Reply(text=protocol.help_text(call.services.settings.role_verbs()))]


@handles(BY_NAME["status"])
def status(call: Call) -> list[Reply]:
    task = call.services.journal.open_task(call.chat_id)
    limit = call.services.settings.rules.max_attempts
    described = f"#{task.id} {task.kind}: {task.request} (fix attempts {task.attempts}/{limit})" if task else None
    workspace = call.services.executor.run(StatusRequest())
    usage = replies.roles_usage_text(call.services.journal.role_usage(call.chat_id))
    return [Reply(text=replies.status_text(workspace, described) + f"\n{usage}\nMode: {call.services.mode}")]


@handles(COMMIT)
def commit(call: Call) -> list[Reply]:
    args = cast(CommitArguments, call.args)
    services = call.services
    message = args.msg or _plain_data(call.cmd) or "update from the chat"
    author = services.settings.identity_of(authorship.author_of_pending(services.journal, call.chat_id))
    if services.dry_run:
        return [Reply(text=f"[dry run] would commit as {author}: {message}")]
    link = {"chat_id": call.chat_id or "local", "message_id": call.row.msg_id, "url": services.settings.chat.url}
    request = build(CommitRequest, message=message, author=author, chat=link)
    call.stage("committing")
    result = services.executor.run(request)  # a commit made before a crash is recognised by its message id
    authorship.committed(services.journal, call.chat_id)
    return [Reply(text=replies.commit_text(result))]


@handles(IMPROVEMENT)
def improvement(call: Call) -> list[Reply]:
    """A patch: applied, built, checked for degradation; a failure opens a task, or is an attempt for the open one."""
    args = cast(ImprovementArguments, call.args)
    cmd, services = call.cmd, call.services
    if not carries_patch(cmd):
        logger.info(f"vibe recorded for the assistant: {(args.vibe or cmd.data or '')[:120]}")
        return []
    payload = protocol.payload_of(cmd)
    task = services.journal.open_task(call.chat_id)
    if task is not None and (task.waiting_since is None or call.role != "assistant"):
        task = None  # only the assistant's patch answers a task that waits for it
    call.stage("applying", task.id if task else None)
    attempt = try_patch(
        services.executor,
        payload,
        file_id=args.file_id if args.file_id is not None or task is None else task.file_id,
        test_filter=task.filter if task else None,
        budget=services.settings.replies.summary_budget,
        skip_apply=call.resumed and call.row.stage == "applied",
        accept_applied=call.resumed,
    )
    if attempt.applied is not None and attempt.applied.ok:
        call.stage("applied")
    if task is not None:
        return services.fixes.answer(task, attempt, call.role)
    if attempt.ok:
        return services.fixes.announce(call.chat_id, attempt, call.role)
    if attempt.applied is not None and attempt.applied.already_applied:
        return [Reply(text="Nothing to do: " + attempt.summary)]
    target = f" file_id={args.file_id}" if args.file_id is not None else ""
    request = f"the patch{target} from the {call.role}"
    return services.fixes.open(call.chat_id, "patch", request, attempt, payload=payload, file_id=args.file_id)


@handles(CODE_TEST)
def code_test(call: Call) -> list[Reply]:
    """`check test`, and a task with up to 3 fix attempts when it fails."""
    args = cast(CheckTestRequest, call.args)
    services = call.services
    result = services.executor.run(args)
    attempt = Attempt(ok=result.ok, check=result, summary=summarize_check(result, budget=services.settings.replies.summary_budget))
    if result.ok:
        return [Reply(text=attempt.summary)]
    if result.environment is not None:
        return [Reply(text=attempt.summary, kind="escalation")]
    request = f"make `cargo test {args.filter}` pass" if args.filter else "make `cargo test` pass"
    return [Reply(text=attempt.summary)] + services.fixes.open(call.chat_id, "test", request, attempt, test_filter=args.filter)


def _plain_data(cmd: Command) -> str:
    """Data that is not a `key:` item (an empty `[msg:]` gives nothing)."""
    data = (cmd.data or "").strip()
    return "" if re.fullmatch(r"(?i)(msg|vibe)\s*:\s*", data) else data
