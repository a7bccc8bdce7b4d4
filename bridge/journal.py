"""The durable ledger (SQLite, WAL): messages seen (the last turns' text too), commands, tasks, the outbox,
the agent roles' API calls, per-chat state.

Crash safety rule: every step is written before it is done. A message and its commands are
recorded in one transaction; a command is marked with its stage before each effect; its result
and its replies are recorded together in one transaction; a reply is marked posted only after
the chat shows it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from bridge.models import ChatMessage, Command, ReplyKind, Role
from sandbox.redact import redact
from sandbox.sqlite import connect, transaction
from sandbox.text import clip

CommandStatus = Literal["pending", "running", "done", "refused"]
TaskStatus = Literal["open", "succeeded", "escalated", "abandoned"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    chat_id TEXT NOT NULL, msg_id TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL,
    seen_at REAL NOT NULL, PRIMARY KEY (chat_id, msg_id)
);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id TEXT NOT NULL, msg_id TEXT NOT NULL, idx INTEGER NOT NULL,
    role TEXT NOT NULL, verb TEXT NOT NULL, command TEXT NOT NULL,
    status TEXT NOT NULL, stage TEXT NOT NULL DEFAULT '', task_id INTEGER,
    created REAL NOT NULL, started REAL, finished REAL,
    UNIQUE (chat_id, msg_id, idx)
);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, request TEXT NOT NULL,
    file_id INTEGER, filter TEXT,
    last_summary TEXT NOT NULL DEFAULT '', waiting_since REAL,
    created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id TEXT NOT NULL, in_reply_to TEXT, kind TEXT NOT NULL, text TEXT NOT NULL,
    hash TEXT NOT NULL, ref TEXT, status TEXT NOT NULL, created REAL NOT NULL,
    posted_at REAL, posted_id TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (chat_id, status, id);
CREATE INDEX IF NOT EXISTS outbox_ref ON outbox (chat_id, ref);
CREATE INDEX IF NOT EXISTS outbox_hash ON outbox (chat_id, hash);
CREATE INDEX IF NOT EXISTS outbox_reply ON outbox (chat_id, in_reply_to);
CREATE INDEX IF NOT EXISTS commands_status ON commands (chat_id, status, id);
CREATE INDEX IF NOT EXISTS commands_started ON commands (chat_id, started);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks (chat_id, status, id);
CREATE INDEX IF NOT EXISTS tasks_waiting ON tasks (status, waiting_since);
CREATE TABLE IF NOT EXISTS chat_state (
    chat_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (chat_id, key)
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id TEXT NOT NULL, msg_id TEXT NOT NULL, role TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_chat ON turns (chat_id, id);
CREATE TABLE IF NOT EXISTS role_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id TEXT NOT NULL, role TEXT NOT NULL, at REAL NOT NULL, ok INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS role_calls_by_role ON role_calls (role, at);
"""
TURNS_KEPT = 40
"""Turns kept per chat (the roles see the last few; older text is dropped)."""
TURN_CHARS = 4000
"""Characters of a message kept as a turn."""
BROKEN = re.compile("[\ud800-\udfff]")
"""Lone UTF-16 surrogates (SQLite stores UTF-8 only)."""


def stored_command(cmd: Command) -> str:
    """A command as the journal keeps it, and so as it runs: every text in it redacted (a secret the developer typed
    reaches neither the disk nor the workspace, a commit message or a post)."""
    return Command.model_validate(_redacted(cmd.model_dump(mode="json"))).model_dump_json()


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    return value


def text_hash(text: str) -> str:
    """Hash of a text with whitespace normalised, to recognise our own posts when read back."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8", "surrogatepass")).hexdigest()


class Post(BaseModel):
    """One chat post to queue: a part of a reply, with the ref its signature carries."""

    in_reply_to: str | None
    kind: ReplyKind
    text: str
    ref: str | None = None


class CommandRow(BaseModel):
    id: int
    chat_id: str
    msg_id: str
    idx: int
    role: Role
    verb: str
    command: Command
    status: CommandStatus
    stage: str
    task_id: int | None


class TaskRow(BaseModel):
    id: int
    chat_id: str
    kind: str
    status: TaskStatus
    attempts: int
    request: str
    file_id: int | None
    filter: str | None
    last_summary: str
    waiting_since: float | None


class Turn(BaseModel):
    """A message's text as kept for the roles' context: redacted, clipped."""

    msg_id: str
    role: Role
    text: str


class RoleUsage(BaseModel):
    """One role's API calls in a chat and the tokens they cost."""

    role: str
    calls: int
    failed: int
    prompt_tokens: int
    completion_tokens: int


class OutboxRow(BaseModel):
    id: int
    chat_id: str
    in_reply_to: str | None
    kind: ReplyKind
    text: str
    status: Literal["pending", "posted"]


class Journal:
    """One SQLite file shared by every chat the bridge serves."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path, synchronous="FULL")
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic step; nested use joins the outer transaction."""
        with self._lock, transaction(self._db) as db:
            yield db

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # messages and commands ----------------------------------------------------------
    def seen(self, chat_id: str, msg_id: str) -> bool:
        return self._one("SELECT 1 FROM messages WHERE chat_id = ? AND msg_id = ?", chat_id, msg_id) is not None

    def recorded(self, chat_id: str, msg_ids: list[str]) -> set[str]:
        """Which of these messages are recorded; one indexed lookup per id, by one statement whatever their number
        (an `IN (?, ?, …)` per count would cache a compiled statement per count, up to 128 per connection)."""
        rows = self._all(
            "SELECT msg_id FROM messages WHERE chat_id = ? AND msg_id IN (SELECT value FROM json_each(?))", chat_id, json.dumps(msg_ids)
        )
        return {r["msg_id"] for r in rows}

    def record_seen(self, chat_id: str, messages: list[ChatMessage]) -> None:
        """Record messages as seen, running nothing (what a first attach finds), in one step."""
        with self.tx():
            for message in messages:
                self.record_message(message.model_copy(update={"chat_id": chat_id}), [])

    def move_chat(self, old: str, new: str) -> None:
        """A new chat got its id: everything recorded under the provisional one moves to it, in one step."""
        with self.tx() as db:
            for table in ("messages", "commands", "outbox", "tasks", "chat_state", "turns", "role_calls"):
                db.execute(f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?", (new, old))

    def record_message(self, message: ChatMessage, commands: list[Command]) -> bool:
        """Record a message, its text as a turn, and its commands at once; False when it was already recorded."""
        now = time.time()
        with self.tx() as db:
            if self.seen(message.chat_id, message.id):
                return False
            db.execute(
                "INSERT INTO messages (chat_id, msg_id, role, hash, seen_at) VALUES (?, ?, ?, ?, ?)",
                (message.chat_id, message.id, message.role, text_hash(message.text), now),
            )
            self._keep_turn(db, message)
            for cmd in commands:
                db.execute(
                    "INSERT INTO commands (chat_id, msg_id, idx, role, verb, command, status, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                    (message.chat_id, message.id, cmd.index, message.role, cmd.verb, stored_command(cmd), now),
                )
        return True

    def _keep_turn(self, db: sqlite3.Connection, message: ChatMessage) -> None:
        text = clip(redact(BROKEN.sub("\ufffd", message.text)), TURN_CHARS)
        db.execute("INSERT INTO turns (chat_id, msg_id, role, text) VALUES (?, ?, ?, ?)", (message.chat_id, message.id, message.role, text))
        db.execute(
            "DELETE FROM turns WHERE chat_id = ? AND id <= (SELECT id FROM turns WHERE chat_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (message.chat_id, message.chat_id, TURNS_KEPT),
        )

    def last_turns(self, chat_id: str, count: int, up_to: str | None = None) -> list[Turn]:
        """The last `count` turns of a chat, oldest first; with `up_to`, those up to that message (included)."""
        last = "(SELECT MAX(id) FROM turns WHERE chat_id = ? AND msg_id = ?)"
        rows = self._all(
            f"SELECT msg_id, role, text FROM turns WHERE chat_id = ? AND id <= COALESCE({last}, id) ORDER BY id DESC LIMIT ?",
            chat_id, chat_id, up_to, count,
        )
        return [Turn.model_validate(dict(r)) for r in reversed(rows)]

    def _command(self, row: sqlite3.Row) -> CommandRow:
        data = dict(row)
        data["command"] = Command.model_validate_json(data["command"])
        return CommandRow.model_validate(data)

    def unfinished_commands(self, chat_id: str) -> list[CommandRow]:
        rows = self._all("SELECT * FROM commands WHERE chat_id = ? AND status IN ('pending', 'running') ORDER BY id", chat_id)
        return [self._command(r) for r in rows]

    def set_stage(self, command_id: int, stage: str, task_id: int | None = None) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE commands SET status = 'running', stage = ?, started = COALESCE(started, ?), "
                "task_id = COALESCE(?, task_id) WHERE id = ?",
                (stage, time.time(), task_id, command_id),
            )

    def finish_command(self, command_id: int, status: CommandStatus, replies: list[Post]) -> None:
        """Mark a command finished and queue its replies, in one step."""
        with self.tx() as db:
            row = db.execute("SELECT chat_id FROM commands WHERE id = ?", (command_id,)).fetchone()
            db.execute("UPDATE commands SET status = ?, finished = ? WHERE id = ?", (status, time.time(), command_id))
            for post in replies:
                self._queue(db, row["chat_id"], post)

    def executions_since(self, chat_id: str, since: float) -> int:
        row = self._one(
            "SELECT COUNT(*) FROM commands WHERE chat_id = ? AND started IS NOT NULL AND started >= ?", chat_id, since
        )
        return int(row[0]) if row else 0

    # outbox ------------------------------------------------------------------------
    def _queue(self, db: sqlite3.Connection, chat_id: str, post: Post) -> None:
        db.execute(
            "INSERT INTO outbox (chat_id, in_reply_to, kind, text, hash, ref, status, created) "
            "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
            (chat_id, post.in_reply_to, post.kind, post.text, text_hash(post.text), post.ref, time.time()),
        )

    def queue_replies(self, chat_id: str, posts: list[Post]) -> None:
        with self.tx() as db:
            for post in posts:
                self._queue(db, chat_id, post)

    def pending_replies(self, chat_id: str) -> list[OutboxRow]:
        rows = self._all("SELECT * FROM outbox WHERE chat_id = ? AND status = 'pending' ORDER BY id", chat_id)
        return [OutboxRow.model_validate(dict(r)) for r in rows]

    def mark_posted(self, outbox_id: int, posted_id: str | None = None) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE outbox SET status = 'posted', posted_at = ?, posted_id = ? WHERE id = ?",
                (time.time(), posted_id, outbox_id),
            )

    def mark_posted_seen(self, chat_id: str, ref: str | None, text: str, posted_id: str) -> bool:
        """A post of ours seen in the chat (by its ref, else its text): mark it posted (crash recovery)."""
        key, value = ("ref", ref) if ref else ("hash", text_hash(text))
        with self.tx() as db:
            row = db.execute(
                f"SELECT id FROM outbox WHERE chat_id = ? AND {key} = ? AND status = 'pending' ORDER BY id LIMIT 1",
                (chat_id, value),
            ).fetchone()
            if row is None:
                return False
            self.mark_posted(int(row["id"]), posted_id)
        return True

    def is_our_post(self, chat_id: str, text: str, ref: str | None = None) -> bool:
        """True when a chat message is one of our outbox entries (posted or pending), by ref or by text."""
        if ref and self._one("SELECT 1 FROM outbox WHERE chat_id = ? AND ref = ?", chat_id, ref) is not None:
            return True
        return self._one("SELECT 1 FROM outbox WHERE chat_id = ? AND hash = ?", chat_id, text_hash(text)) is not None

    def replied_with(self, chat_id: str, msg_id: str, text: str) -> bool:
        """Whether a reply to this message already says `text`."""
        row = self._one("SELECT 1 FROM outbox WHERE chat_id = ? AND in_reply_to = ? AND instr(text, ?) > 0", chat_id, msg_id, text)
        return row is not None

    def all_replies(self, chat_id: str) -> list[OutboxRow]:
        return [OutboxRow.model_validate(dict(r)) for r in self._all("SELECT * FROM outbox WHERE chat_id = ? ORDER BY id", chat_id)]

    # tasks -------------------------------------------------------------------------
    def _task(self, row: sqlite3.Row | None) -> TaskRow | None:
        return TaskRow.model_validate(dict(row)) if row is not None else None

    def open_task(self, chat_id: str) -> TaskRow | None:
        return self._task(self._one("SELECT * FROM tasks WHERE chat_id = ? AND status = 'open' ORDER BY id DESC LIMIT 1", chat_id))

    def task(self, task_id: int) -> TaskRow | None:
        return self._task(self._one("SELECT * FROM tasks WHERE id = ?", task_id))

    def start_task(self, chat_id: str, kind: str, request: str, *, file_id: int | None = None, filter: str | None = None,
                   last_summary: str = "", waiting_since: float | None = None) -> TaskRow:
        """Open a task; any task still open in this chat is abandoned (one at a time)."""
        now = time.time()
        with self.tx() as db:
            db.execute("UPDATE tasks SET status = 'abandoned', updated = ? WHERE chat_id = ? AND status = 'open'", (now, chat_id))
            cur = db.execute(
                "INSERT INTO tasks (chat_id, kind, status, request, file_id, filter, last_summary, waiting_since, created, updated) "
                "VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?)",
                (chat_id, kind, request, file_id, filter, last_summary, waiting_since, now, now),
            )
            task_id = int(cur.lastrowid or 0)
        task = self.task(task_id)
        assert task is not None
        return task

    def update_task(self, task_id: int, **fields: Any) -> None:
        allowed = {"status", "attempts", "last_summary", "waiting_since"}
        if not fields or not set(fields) <= allowed:
            raise ValueError(f"bad task fields: {sorted(fields)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.tx() as db:
            db.execute(f"UPDATE tasks SET {sets}, updated = ? WHERE id = ?", (*fields.values(), time.time(), task_id))

    def waiting_tasks(self) -> list[TaskRow]:
        rows = self._all("SELECT * FROM tasks WHERE status = 'open' AND waiting_since IS NOT NULL ORDER BY id")
        return [TaskRow.model_validate(dict(r)) for r in rows]

    # the roles' API calls --------------------------------------------------------------
    def record_role_call(self, chat_id: str, role: str, at: float, *, ok: bool, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO role_calls (chat_id, role, at, ok, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?, ?)",
                (chat_id, role, at, int(ok), prompt_tokens, completion_tokens),
            )

    def role_calls_since(self, role: str, since: float) -> int:
        """A role's API calls since `since` (epoch seconds), over all chats."""
        row = self._one("SELECT COUNT(*) FROM role_calls WHERE role = ? AND at >= ?", role, since)
        return int(row[0]) if row else 0

    def role_usage(self, chat_id: str) -> list[RoleUsage]:
        """Each role's calls and tokens in a chat, by role name."""
        rows = self._all(
            "SELECT role, COUNT(*) AS calls, SUM(1 - ok) AS failed, SUM(prompt_tokens) AS prompt_tokens, "
            "SUM(completion_tokens) AS completion_tokens FROM role_calls WHERE chat_id = ? GROUP BY role ORDER BY role",
            chat_id,
        )
        return [RoleUsage.model_validate(dict(r)) for r in rows]

    # per-chat state ------------------------------------------------------------------
    def get(self, chat_id: str, key: str, default: Any = None) -> Any:
        row = self._one("SELECT value FROM chat_state WHERE chat_id = ? AND key = ?", chat_id, key)
        return json.loads(row[0]) if row else default

    def put(self, chat_id: str, key: str, value: Any) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO chat_state (chat_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (chat_id, key) DO UPDATE SET value = excluded.value",
                (chat_id, key, json.dumps(value)),
            )
