"""The exactly-once audit: per command typed, whether it ran once, was answered once and left its effect once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import git
from pydantic import BaseModel, Field

from bridge.protocol import post_ref
from tests.reliability.harness import DONE, Rig
from tests.support.waiting import wait_for

READ_ONLY_VERBS = frozenset({"help", "status", "code files", "code get", "code sandwich", "check compile", "check test", "check degradation", "code test"})


class Sent(BaseModel):
    """A command the test typed into the chat, and the effect it must leave exactly once."""

    msg_id: str
    verb: str
    effect: str | None = Field(default=None, description="a patch's added line, or a commit's message")


class Audit(BaseModel):
    """Exactly-once figures of a run. Executed: the command's journal row finished `done`, i.e. its effect
    (the read, the check, the applied patch, the commit) completed and its replies were queued with it."""

    sent: int = 0
    executed: int = 0
    posted: int = 0
    duplicated: int = 0
    lost: int = 0
    read_only_reruns: int = 0
    resumed_effects: int = 0
    problems: list[str] = Field(default_factory=list)

    def line(self) -> str:
        return (
            f"sent {self.sent}, executed {self.executed}, posted {self.posted}, duplicated {self.duplicated}, "
            f"lost {self.lost}, read-only re-runs {self.read_only_reruns}, resumed effects {self.resumed_effects}"
        )


def _effect_count(sent: Sent, tree: Path, subjects: list[str]) -> int:
    assert sent.effect is not None
    if sent.verb == "commit":
        return sum(1 for s in subjects if f": {sent.effect} (" in s)
    return sum(p.read_text(errors="replace").splitlines().count(sent.effect) for p in (tree / "src").rglob("*.rs"))


def audit(sent: list[Sent], rig: Rig) -> Audit:
    """Count, per command typed, whether it ran once, was answered once and left its effect once."""
    commands = rig.journal.commands()
    outbox = rig.journal.outbox()
    posts = Counter(post_ref(p) for p in rig.posts())
    refs = {row["ref"] for row in outbox}
    repo = git.Repo(rig.tree)
    subjects = [str(c.summary) for c in repo.iter_commits()]
    trailers = Counter(line for c in repo.iter_commits() for line in str(c.message).splitlines() if line.startswith("Chat-Message-Id: "))
    result = Audit(sent=len(sent))
    for item in sent:
        rows = [r for r in commands if r["msg_id"] == item.msg_id]
        replies = [r for r in outbox if r["in_reply_to"] == item.msg_id]
        shown = [posts.get(r["ref"], 0) for r in replies]
        effects = _effect_count(item, rig.tree, subjects) if item.effect else None
        lost = not rows or any(r["status"] not in DONE for r in rows) or not replies or 0 in shown or effects == 0
        twice = len(rows) > 1 or any(n > 1 for n in shown) or (effects or 0) > 1
        if item.verb == "commit":  # journal and git agree: one commit links back to each commit command
            linked = trailers[f"Chat-Message-Id: {item.msg_id}"]
            lost, twice = lost or linked == 0, twice or linked > 1
        result.executed += sum(1 for r in rows if r["status"] == "done")
        result.lost += lost
        result.duplicated += twice
        if lost or twice:
            result.problems.append(f"{item.verb} ({item.msg_id}): rows {[r['status'] for r in rows]}, posts {shown}, effects {effects}")
    result.posted = sum(posts.get(r["ref"], 0) for r in outbox if r["in_reply_to"] in {s.msg_id for s in sent})
    strays = [ref for ref in posts if ref not in refs]
    if strays:
        result.problems.append(f"posts the journal does not know: {strays}")
    for line in rig.log_text().splitlines():
        if "was interrupted at stage" in line:
            verb = line.split("(", 1)[1].split(")", 1)[0] if "(" in line else ""
            if verb in READ_ONLY_VERBS:
                result.read_only_reruns += 1
            else:
                result.resumed_effects += 1
    return result


def settle(rig: Rig, sent: list[Sent], timeout: float) -> None:
    """Wait until every typed command is recorded and finished, every reply shows in the chat, and the chat is quiet."""

    def quiet() -> bool:
        ids = {r["msg_id"] for r in rig.journal.commands()}
        turns = rig.messages()
        return (
            all(s.msg_id in ids for s in sent)
            and rig.journal.drained()
            and all(t.status != "streaming" for t in turns)
            and len(rig.posts()) >= len(rig.journal.outbox())
        )

    try:
        wait_for(quiet, timeout, "every command to be answered", step=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{rig.describe(sent)}") from None
