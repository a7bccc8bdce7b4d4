"""The journal's SQLite memory is bounded however long the bridge stays attached: its page cache stops at
`sandbox.sqlite.CACHE_KIB` while the file grows past it (SQLite's default cache, 2,000 KiB per connection, grew the
bridge process for hours of a soak)."""

from __future__ import annotations

import ctypes
import _sqlite3
from pathlib import Path

import pytest

from bridge.journal import Journal, Post
from bridge.models import ChatMessage
from sandbox.sqlite import CACHE_KIB

KIB = 1024
SQLITE_STATUS_MEMORY_USED = 0
DEFAULT_CACHE_KIB = 2000


def sqlite_memory() -> int:
    """Bytes SQLite holds in this process now (`sqlite3_status64`), from the library the sqlite3 module uses."""
    try:
        status = ctypes.CDLL(_sqlite3.__file__).sqlite3_status64
    except (OSError, AttributeError):
        pytest.skip("the sqlite3 module's SQLite library does not export sqlite3_status64 here")
    current, highwater = ctypes.c_int64(), ctypes.c_int64()
    status(SQLITE_STATUS_MEMORY_USED, ctypes.byref(current), ctypes.byref(highwater), 0)
    return current.value


def test_sqlite_memory_stops_at_the_page_cache_bound_while_the_journal_grows(tmp_path: Path) -> None:
    before = sqlite_memory()
    journal = Journal(tmp_path / "journal.db")
    grown: list[int] = []
    try:
        n = 0
        while (tmp_path / "journal.db").stat().st_size < 3 * DEFAULT_CACHE_KIB * KIB:
            ids = [f"msg-{n}-{k}" for k in range(50)]
            with journal.tx():
                for msg_id in ids:
                    journal.record_message(ChatMessage(id=msg_id, role="developer", text=f"@agent status {n} " + "x" * 400, chat_id="c"), [])
                journal.queue_replies("c", [Post(in_reply_to=msg_id, kind="result", text=f"reply {msg_id} " + "y" * 900) for msg_id in ids])
                for row in journal.pending_replies("c"):
                    journal.mark_posted(row.id, f"posted-{row.id}")
            assert journal.recorded("c", ids) == set(ids)
            scanned = journal._db.execute("SELECT count(*), sum(length(text)) FROM outbox").fetchone()  # every page of it
            assert scanned[0] == 50 * (n + 1)
            grown.append(sqlite_memory() - before)
            n += 1
    finally:
        journal.close()
    # the cache's pages plus what a connection holds beside them (schema, prepared statements): well under the 2,000
    # KiB of SQLite's default cache, which this journal file outgrew three times over
    assert max(grown) < CACHE_KIB * KIB + 512 * KIB, f"SQLite held up to {max(grown) // KIB} KiB"


def test_looking_up_any_number_of_ids_compiles_one_statement(tmp_path: Path) -> None:
    """A read's window has a different number of turns from one read to the next; a statement per number, each kept
    compiled in the connection's statement cache, held up to 1.5 MiB for 120 numbers."""
    journal = Journal(tmp_path / "journal.db")
    try:
        journal.record_message(ChatMessage(id="msg-3", role="developer", text="@agent status", chat_id="c"), [])
        journal.recorded("c", ["msg-0"])
        before = sqlite_memory()
        for count in range(1, 121):
            assert journal.recorded("c", [f"msg-{k}" for k in range(count)]) == ({"msg-3"} if count > 3 else set())
        grown = sqlite_memory() - before
    finally:
        journal.close()
    assert grown < 64 * KIB, f"SQLite grew by {grown // KIB} KiB"
