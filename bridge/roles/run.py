"""A role tag run: the role is asked with its bounded context; text is posted, a patch goes through the same
hands as an assistant's `code improvement` (apply, build, check degradation; up to 3 fix attempts asked of
the same role; then the escalation to the developer).

Stages for a restart: `asking` (before the API call: run again), `applying` and `applied` (the patch
may be in the workspace: not repeated).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from loguru import logger

from bridge.attempts import try_patch
from bridge.config import Settings
from bridge.fixloop import Fixer, FixLoop
from bridge.journal import Journal
from bridge.llm import Answer, LLMError
from bridge.models import Command, Reply
from bridge.prompts import NOTHING_NEW, role_prompt
from bridge.protocol import payload_of
from bridge.protocol.verbs import RoleArguments
from bridge.roles import context
from bridge.roles.calls import RoleCalls
from bridge.roles.config import CRITIC, RoleSettings
from sandbox.executor import Executor
from sandbox.markdown import Kind, scan
from sandbox.models import CodeFile
from sandbox.text import one_line, trimmed

if TYPE_CHECKING:
    from bridge.handlers import Call

ASKING, APPLYING, APPLIED = "asking", "applying", "applied"
TEXT_CHARS = 3_000
"""Characters of a text role's answer posted."""
PROSE_CHARS = 400
"""Characters of a patch role's explanation posted with its patch."""
DIFF_LINES = ("--- ", "+++ ", "@@", "diff --git", "<<<<<<<", "=======", ">>>>>>>")
DEFAULT_REQUESTS: dict[str, str | None] = {
    "generator": None,  # a request is required
    "tester": "Write tests for the files shown.",
    "critic": "Review what is shown.",
    "optimizer": "Make the code shown faster or smaller, with the same behaviour.",
}
"""The request of a tag that carries none, by role (a role of the user's: GENERIC_REQUEST)."""
GENERIC_REQUEST = "Do what your role says with what is shown."


def headline(name: str, model: str, subject: str) -> str:
    return f"@{name} ({model}) on {subject}"


def text_post(answer: Answer, max_tokens: int) -> str:
    """A text answer as posted: bounded, with a note when the model stopped at the output limit."""
    cut = f"\n\n(the answer stopped at the role's limit of {max_tokens} output tokens)" if answer.truncated else ""
    return trimmed(answer.text.strip(), TEXT_CHARS) + cut


def nothing_new(text: str, earlier: list[str]) -> bool:
    said = text.strip()
    return not said or said.strip("`*. ").upper() == NOTHING_NEW or said in earlier


def prose(text: str) -> str:
    """What an answer says outside its code: one bounded line."""
    layout = scan(text, indented=True)
    plain = [
        line for line, kind in zip(layout.lines, layout.kinds, strict=True)
        if kind == Kind.PLAIN and not line.lstrip().startswith(DIFF_LINES)
    ]
    return one_line("\n".join(plain), PROSE_CHARS)


def request_of(cmd: Command, args: RoleArguments) -> str:
    """The request a tag carries: `[vibe: …]`, other `[…]` data, or the text after its line (code blocks aside)."""
    if args.vibe:
        return args.vibe
    if cmd.data and cmd.data.strip():
        return cmd.data.strip()
    layout = scan(cmd.body, indented=True)
    return "\n".join(line for line, kind in zip(layout.lines, layout.kinds, strict=True) if kind == Kind.PLAIN).strip()


def _subject(files: list[CodeFile], patch: str | None, change: context.Change | None) -> str:
    if files and not change:
        return ", ".join(f"file_id={f.file_id} `{f.path}`" for f in files) + (" and the patch" if patch else "")
    if change:
        return f"the last change ({', '.join(change.paths) or 'no files'})"
    return "the patch" if patch else "the request"


class RoleRunner:
    """Runs the configured roles' tags (see the module docstring)."""

    def __init__(self, executor: Executor, journal: Journal, settings: Settings, calls: RoleCalls, fixes: FixLoop) -> None:
        self.executor = executor
        self.journal = journal
        self.settings = settings
        self.calls = calls
        self.fixes = fixes

    def run(self, call: Call) -> list[Reply]:
        name = cast(str, call.verb.role)
        role = self.settings.roles[name]
        args = cast(RoleArguments, call.args)
        if call.resumed and call.verb.mutates and call.row.stage not in ("", "started", ASKING):
            text = f"`@{name}` was interrupted by a restart after its patch reached the workspace and is not repeated; check `@agent status`."
            return [Reply(text=text, kind="error")]
        files, patch, change = self._shown(call, role, args)
        request = request_of(call.cmd, args) or DEFAULT_REQUESTS.get(name, GENERIC_REQUEST)
        if not request or not (files or patch or role.produces == "patch"):
            return [Reply(text=self._nothing_to_do(name, role), kind="error")]
        earlier = context.reviews(self.journal, call.chat_id) if name == CRITIC else []
        messages = role_prompt(
            role.prompt, request, files=files, turns=context.turns(self.journal, call.chat_id, call.row.msg_id),
            patch=patch, topic=args.topic, reviews=earlier,
        )
        call.stage(ASKING)
        try:
            answer = self.calls.complete(name, call.chat_id, messages)
        except LLMError as exc:
            return [Reply(text=str(exc) if exc.kind in ("no_key", "limit") else f"`@{name}` got no answer: {exc}", kind="error")]
        named = len(set(args.file_ids or []))
        left_out = f" (the first {len(files)} of the {named} files named)" if named > len(files) else ""
        said = headline(name, self.calls.model(name), _subject(files, patch, change) + left_out)
        if role.produces == "text":
            if name == CRITIC:
                if nothing_new(answer.text, []):
                    return [Reply(text=f"{said}: nothing new to say.")]
                context.remember_review(self.journal, call.chat_id, answer.text.strip())
            return [Reply(text=f"{said}:\n\n{text_post(answer, role.max_tokens)}")]
        return self._patch(call, role, args, request, answer, said)

    def _shown(self, call: Call, role: RoleSettings, args: RoleArguments) -> tuple[list[CodeFile], str | None, context.Change | None]:
        """The files and the patch a role is shown: those the command names or carries; for a text role that is
        given neither, the chat's last change."""
        files = context.files_named(self.executor, args.file_ids or [])
        patch = payload_of(call.cmd) if call.cmd.code_blocks else None
        if role.produces == "patch" or files or patch:
            return files, patch, None
        change = context.last_change(self.journal, call.chat_id)
        if change is None:
            return [], None, None
        return context.files_at(self.executor, change.paths), change.payload, change

    def _patch(self, call: Call, role: RoleSettings, args: RoleArguments, request: str, answer: Answer, said: str) -> list[Reply]:
        name = cast(str, call.verb.role)
        file_id = args.file_ids[0] if args.file_ids and len(args.file_ids) == 1 else None
        call.stage(APPLYING)
        budget = self.settings.replies.summary_budget
        attempt = try_patch(self.executor, answer.text, file_id=file_id, test_filter=args.topic, budget=budget)
        explained = prose(answer.text)
        head = f"{said}: {explained}" if explained else said
        if attempt.ok:
            call.stage(APPLIED)
            return _headed(head, self.fixes.announce(call.chat_id, attempt, name, note=f" by @{name}"))
        if attempt.applied is not None and attempt.applied.already_applied:
            return [Reply(text=f"{head}\n\nNothing to do: {attempt.summary}")]
        logger.info(f"@{name}'s patch failed its checks; asking @{name} for fixes")
        target = f" for file_id={file_id}" if file_id is not None else ""
        task = f"the patch from @{name}{target} ({one_line(request, 120)})"
        fixer = Fixer(f"@{name}", name, role.prompt, self._asker(name, call.chat_id))
        replies = self.fixes.open(
            call.chat_id, "role", task, attempt, payload=answer.text, file_id=file_id, test_filter=args.topic, fixer=fixer
        )
        return _headed(head, replies)

    def _asker(self, name: str, chat_id: str) -> Callable[[list[dict[str, str]]], str]:
        return lambda messages: self.calls.complete(name, chat_id, messages).text

    @staticmethod
    def _nothing_to_do(name: str, role: RoleSettings) -> str:
        if role.produces == "patch":
            return f"`@{name}` needs a request: `[vibe: …]`, `[…]` or text after the line (and file_id=N for the files it works on)."
        return f"`@{name}` has nothing to look at: name files (file_id=N,…), put a patch after the line, or let a change land first."


def _headed(head: str, replies: list[Reply]) -> list[Reply]:
    """The replies with the role's headline before the first one."""
    if not replies:
        return [Reply(text=head)]
    first = replies[0]
    return [first.model_copy(update={"text": f"{head}\n\n{first.text}"}), *replies[1:]]
