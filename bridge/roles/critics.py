"""The fix loop's reviewer: every patch that lands is remembered as the chat's last change, and while the
developer's latest message carries `#critics_allowed` the critic reviews it, posting only what is new.

A review the critic makes on its own is a run the developer did not ask for: it counts toward the loop
guard, and none is made while the chain is paused. Its API failures are logged, never posted; only a
missing key is said, once per chat, since the developer asked for critics.
"""

from __future__ import annotations

from loguru import logger

from bridge.attempts import Attempt
from bridge.config import Settings
from bridge.journal import Journal
from bridge.llm import LLMError
from bridge.models import Reply
from bridge.policy import Policy
from bridge.prompts import role_prompt
from bridge.roles import context
from bridge.roles.calls import RoleCalls
from bridge.roles.config import CRITIC
from bridge.roles.run import headline, nothing_new, text_post
from sandbox.executor import Executor

REQUEST = "Review this patch: it was just applied and passed its checks (build, no regressions)."
NO_KEY_TOLD = "critic_no_key_told"


class Critics:
    def __init__(self, executor: Executor, journal: Journal, settings: Settings, calls: RoleCalls, policy: Policy) -> None:
        self.executor = executor
        self.journal = journal
        self.settings = settings
        self.calls = calls
        self.policy = policy

    def landed(self, chat_id: str, attempt: Attempt, author: str) -> list[Reply]:
        applied = attempt.applied
        assert applied is not None, "only an applied patch lands"
        paths = applied.changed + applied.created
        context.remember_change(self.journal, chat_id, context.Change(payload=attempt.payload or "", paths=paths, author=author))
        role = self.settings.roles.get(CRITIC)
        if role is None or not self.policy.critics_allowed(chat_id):
            return []
        if self.policy.chain_paused(chat_id):
            logger.info(f"chat {chat_id}: no review by @{CRITIC}: the loop guard has paused the chain")
            return []
        self.policy.note_chained(chat_id)
        earlier = context.reviews(self.journal, chat_id)
        messages = role_prompt(
            role.prompt, REQUEST, files=context.files_at(self.executor, paths), turns=context.turns(self.journal, chat_id),
            patch=attempt.payload, reviews=earlier,
        )
        try:
            answer = self.calls.complete(CRITIC, chat_id, messages)
        except LLMError as exc:
            logger.warning(f"chat {chat_id}: no review by @{CRITIC} of the patch to {', '.join(paths)}: {exc}")
            if exc.kind != "no_key" or self.journal.get(chat_id, NO_KEY_TOLD, False):
                return []
            self.journal.put(chat_id, NO_KEY_TOLD, True)
            return [Reply(text=f"#critics_allowed: {exc}", kind="error")]
        if nothing_new(answer.text, earlier):
            logger.info(f"chat {chat_id}: @{CRITIC} has nothing new to say about the patch to {', '.join(paths)}")
            return []
        context.remember_review(self.journal, chat_id, answer.text.strip())
        subject = f"the patch to {', '.join(paths) or 'no files'}"
        return [Reply(text=f"{headline(CRITIC, self.calls.model(CRITIC), subject)}:\n\n{text_post(answer, role.max_tokens)}")]
