"""SQLite as the journal and the workspace state use it: WAL, autocommit, explicit transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

CACHE_KIB = 512
"""SQLite's page cache per connection, KiB (its default is 2,000 KiB per connection). Every page a connection reads
stays cached up to this bound, so a journal that grows for as long as the bridge stays attached grows the process's
memory with it until the bound; a step's indexed lookups touch a few pages, and the OS caches the file anyway."""


def connect(path: Path, *, synchronous: Literal["NORMAL", "FULL"] = "NORMAL") -> sqlite3.Connection:
    """A connection in autocommit mode with WAL and a page cache of at most `CACHE_KIB`; transactions are opened
    explicitly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")  # negative: KiB, not pages
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error; nested use joins the outer one."""
    if db.in_transaction:
        yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
