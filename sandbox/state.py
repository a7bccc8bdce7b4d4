"""The workspace's durable state in SQLite: file ids, the patch stack, MCP's commits, base results."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path

from sandbox.models import CheckResult, FileChange
from sandbox.sqlite import connect, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS file_ids (
    file_id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    retired INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS patches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    changes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mcp_commits (
    sha TEXT PRIMARY KEY,
    created REAL NOT NULL,
    reverted_by TEXT,
    is_revert INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS base_results (
    sha TEXT NOT NULL,
    kind TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (sha, kind)
);
"""


class WorkspaceState:
    """One SQLite file per workspace; every write is its own transaction."""

    def __init__(self, path: Path) -> None:
        self._db = connect(path)
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db)

    # file ids -----------------------------------------------------------------
    def sync_file_ids(self, paths: Iterable[str]) -> dict[str, int]:
        """Give every new path the next id, retire vanished ones; ids are never reused."""
        present = sorted(set(paths))
        with self._tx() as db:
            known = {p: (i, r) for i, p, r in db.execute("SELECT file_id, path, retired FROM file_ids")}
            for path in present:
                if path not in known:
                    db.execute("INSERT INTO file_ids (path) VALUES (?)", (path,))
                elif known[path][1]:
                    db.execute("UPDATE file_ids SET retired = 0 WHERE path = ?", (path,))
            gone = set(known) - set(present)
            db.executemany("UPDATE file_ids SET retired = 1 WHERE path = ?", [(p,) for p in gone])
        return self.live_ids()

    def live_ids(self) -> dict[str, int]:
        rows = self._db.execute("SELECT path, file_id FROM file_ids WHERE retired = 0 ORDER BY file_id")
        return {p: i for p, i in rows}

    def path_of(self, file_id: int) -> str | None:
        row = self._db.execute("SELECT path FROM file_ids WHERE file_id = ?", (file_id,)).fetchone()
        return row[0] if row else None

    # patch stack ---------------------------------------------------------------
    def push_patch(self, changes: list[FileChange]) -> int:
        payload = json.dumps([c.model_dump() for c in changes])
        with self._tx() as db:
            cur = db.execute("INSERT INTO patches (created, changes) VALUES (?, ?)", (time.time(), payload))
            return int(cur.lastrowid or 0)

    def last_patch(self) -> tuple[int, list[FileChange]] | None:
        row = self._db.execute("SELECT seq, changes FROM patches ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return int(row[0]), [FileChange.model_validate(c) for c in json.loads(row[1])]

    def patch_changes(self) -> list[FileChange]:
        """Every change of every applied patch, oldest first."""
        rows = self._db.execute("SELECT changes FROM patches ORDER BY seq").fetchall()
        return [FileChange.model_validate(c) for row in rows for c in json.loads(row[0])]

    def drop_patch(self, seq: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM patches WHERE seq = ?", (seq,))

    def clear_patches(self) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM patches")

    def patch_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM patches").fetchone()[0])

    # MCP commits ---------------------------------------------------------------
    def record_commit(self, sha: str, reverts: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO mcp_commits (sha, created, is_revert) VALUES (?, ?, ?)",
                (sha, time.time(), 1 if reverts else 0),
            )
            if reverts:
                db.execute("UPDATE mcp_commits SET reverted_by = ? WHERE sha = ?", (sha, reverts))

    def last_revertible_commit(self) -> str | None:
        row = self._db.execute(
            "SELECT sha FROM mcp_commits WHERE reverted_by IS NULL AND is_revert = 0 ORDER BY created DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def commit_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM mcp_commits WHERE is_revert = 0").fetchone()[0])

    # cached base results ---------------------------------------------------------
    def base_result(self, sha: str, kind: str) -> CheckResult | None:
        row = self._db.execute("SELECT result FROM base_results WHERE sha = ? AND kind = ?", (sha, kind)).fetchone()
        return CheckResult.model_validate_json(row[0]) if row else None

    def save_base_result(self, sha: str, kind: str, result: CheckResult) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO base_results (sha, kind, result) VALUES (?, ?, ?)",
                (sha, kind, result.model_dump_json()),
            )
