"""Hours attached: what the journal does for each read, message and reply costs the same in a long-lived journal as
in a fresh one (every lookup is indexed), so latency does not drift as the history grows. Work is counted in SQLite
virtual-machine steps (its progress handler), not in seconds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridge.journal import Journal, Post
from bridge.models import ChatMessage
from bridge.protocol import parse

CHAT = "chat-1"
STEPS_PER_TICK = 10


def grow(journal: Journal, start: int, stop: int) -> None:
    """Turns `start`..`stop` of a busy chat: a command each, its reply queued and posted, a task for every other one."""
    for n in range(start, stop):
        message = ChatMessage(id=f"m{n}", role="developer", text=f"@agent code test #t{n}", chat_id=CHAT)
        journal.record_message(message, parse(message).commands)
        row = journal.unfinished_commands(CHAT)[-1]
        journal.set_stage(row.id, "running")
        journal.finish_command(row.id, "done", [Post(in_reply_to=message.id, text=f"tests ok {n}", ref=f"r{n:06d}", kind="result")])
        reply = journal.pending_replies(CHAT)[-1]
        journal.mark_posted(reply.id, f"p{n}")
        if n % 2:
            task = journal.start_task(CHAT, "test", f"test {n}")
            journal.update_task(task.id, status="succeeded")


def step_queries(journal: Journal, n: int) -> dict[str, Callable[[], object]]:
    """The lookups a bridge step makes per read, per new message and per reply, at turn `n`."""
    window = [f"m{i}" for i in range(max(0, n - 40), n)]
    return {
        "recorded": lambda: journal.recorded(CHAT, window),
        "is_our_post": lambda: journal.is_our_post(CHAT, "a developer's text", "r999999"),
        "mark_posted_seen": lambda: journal.mark_posted_seen(CHAT, "r999999", "text", "x"),
        "replied_with": lambda: journal.replied_with(CHAT, f"m{n - 1}", "refused"),
        "pending_replies": lambda: journal.pending_replies(CHAT),
        "unfinished_commands": lambda: journal.unfinished_commands(CHAT),
        "executions_since": lambda: journal.executions_since(CHAT, 1e12),
        "open_task": lambda: journal.open_task(CHAT),
        "waiting_tasks": journal.waiting_tasks,
        "last_turns": lambda: journal.last_turns(CHAT, 8),
        "get": lambda: journal.get(CHAT, "last_seen_id"),
    }


def work(journal: Journal, query: Callable[[], object]) -> int:
    """SQLite VM steps (in units of STEPS_PER_TICK) that one call takes."""
    ticks = 0

    def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0

    journal._db.set_progress_handler(tick, STEPS_PER_TICK)
    try:
        query()
    finally:
        journal._db.set_progress_handler(None, 0)
    return ticks


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    journal = Journal(tmp_path / "journal.db")
    yield journal
    journal.close()


def test_each_lookup_of_a_step_costs_the_same_after_thousands_of_turns(journal):
    grow(journal, 0, 60)
    small = {name: work(journal, q) for name, q in step_queries(journal, 60).items()}
    grow(journal, 60, 600)
    big = {name: work(journal, q) for name, q in step_queries(journal, 600).items()}
    grown = {name: (small[name], big[name]) for name in small if big[name] > small[name] * 2 + 5}
    assert not grown, f"lookups whose work grows with the journal (VM ticks at 60 -> 600 turns): {grown}"
