"""The reliability suite's world: the mock chat, one bridge's home, project, session and environment,
and read-only views of what the bridge keeps. Shared by the tests here and by `benchmarks/chaos.py`.
"""

from __future__ import annotations

import asyncio

import contextlib
import json
import os
import secrets
import sqlite3
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from bridge.example import copy_example
from bridge.mockchat.app import MockOptions, create_app
from bridge.mockchat.assistant import Rule, Script, ScriptedAssistant
from bridge.mockchat.client import MockChatClient
from bridge.mockchat.store import Message
from bridge.protocol import is_bot_post
from sandbox.serving import BackgroundServer
from tests.reliability.leaks import Planted, secret_hits
from tests.reliability.process import BridgeProcess
from tests.support.waiting import wait_for

if TYPE_CHECKING:
    from tests.reliability.audit import Sent

ROOT = Path(__file__).resolve().parents[2]
SLOW_PATCH_ASK = "please stream the marker patch slowly"
DONE = ("done", "refused")


# the chat ------------------------------------------------------------------------------------------
def marker_patch(n: int, path: str = "src/lib.rs", anchor: str = "pub mod log;") -> str:
    """A developer's patch command that adds the line `// marker <n>` after `anchor`."""
    return (
        f"@agent code improvement\n```diff\n--- a/{path}\n+++ b/{path}\n@@ -3,1 +3,2 @@\n {anchor}\n+// marker {n}\n```\n"
    )


def assistant_script(slow_patch_marker: int = 900) -> Script:
    """The chat's assistant: a short answer to every turn; asked for it, a marker patch streamed slowly (about 3 s)."""
    slow = Rule(match=SLOW_PATCH_ASK, reply="Here it is.\n\n" + marker_patch(slow_patch_marker), chunk=6, delay_ms=150)
    return Script(rules=[slow], default=Rule(reply="Noted."), delay_ms=5)


class ChatServer:
    """The mock chat on a loopback port; it remembers when each conversation page was (re)loaded."""

    def __init__(self, script: Script | None = None, options: MockOptions | None = None) -> None:
        app = create_app(ScriptedAssistant(script or assistant_script()), options)
        self.page_loads: list[tuple[float, str]] = []
        self.load_delay = 0.0  # seconds each conversation page is held back: a page as slow to load as a huge chat's

        @app.middleware("http")
        async def record(request: Any, call_next: Any) -> Any:
            if request.method == "GET" and request.url.path.startswith(("/chat/", "/c/")):
                self.page_loads.append((time.monotonic(), request.url.path.rsplit("/", 1)[-1]))
                await asyncio.sleep(self.load_delay)
            return await call_next(request)

        self._server = BackgroundServer(app, timeout_graceful_shutdown=1)
        self.client = MockChatClient(self._server.url)

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self._server.stop()


# one bridge's world ---------------------------------------------------------------------------------
class Rig:
    """A bridge's world: a copy of the example crate, a DevSpace home, a logged-in session, planted secrets, its env."""

    def __init__(self, root: Path, chat: ChatServer) -> None:
        self.root = root
        self.chat = chat
        self.project = copy_example(root / "trade_report")
        self.home = root / "home"
        self.chat_id = str(uuid.uuid4())
        self.url = chat.client.chat_url(self.chat_id)
        self.session_file = self.home / "sessions" / "mock.json"
        self.login()
        self.output = root / "bridge-process.log"
        self.planted = Planted(api_key=secrets.token_hex(20), cookie=self.cookie)
        self.env = self._env()

    def login(self) -> None:
        """What `devspace login` does: a fresh logged-in session saved where the bridge reads it."""
        self.chat.client.write_storage_state(self.session_file)

    @property
    def cookie(self) -> str:
        return str(json.loads(self.session_file.read_text())["cookies"][0]["value"])

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEVSPACE_") and k not in ("XAI_API_KEY", "OPENAI_API_KEY")}
        env.update(
            PYTHONPATH=str(ROOT),
            DEVSPACE_HOME=str(self.home),
            DEVSPACE_PROJECT=str(self.project),
            DEVSPACE_CHAT__PROFILE="mock",
            DEVSPACE_LOG_LEVEL="DEBUG",
            DEVSPACE_RULES__FLOOD_PER_MINUTE="1000",  # the scripted developer types far faster than a person
            XAI_API_KEY=self.planted.api_key,
            DEVSPACE_LLM__BASE_URL="http://127.0.0.1:9/v1",  # nothing listens there: a fix request fails, never leaves
            CHAT_SESSION_COOKIE=self.planted.cookie,
        )
        return env

    def process(self, **options: Any) -> BridgeProcess:
        return BridgeProcess(self.url, self.env, self.output, **options)

    @property
    def journal(self) -> JournalView:
        return JournalView(self.home / "journal.db", self.chat_id)

    @property
    def tree(self) -> Path:
        return next(self.home.glob("workspaces/*/tree"))

    def wait_attached(self, timeout: float = 60.0) -> None:
        wait_for(lambda: self.journal.attached(), timeout, "the bridge's first attach")

    def say(self, text: str) -> str:
        """The developer types a message (in another session); its id."""
        return self.chat.client.inject(self.chat_id, text)

    def messages(self) -> list[Message]:
        return self.chat.client.messages(self.chat_id)

    def posts(self) -> list[str]:
        """MCP's posts as the chat holds them."""
        return [m.markdown for m in self.messages() if m.role == "user" and is_bot_post(m.markdown)]

    def files(self) -> list[Path]:
        """Every file the run wrote that may hold a secret: logs, journals, workspace files (not the login itself)."""
        found = [p for p in self.home.rglob("*") if p.is_file() and self.home / "sessions" not in p.parents]
        return found + ([self.output] if self.output.exists() else [])

    def secret_hits(self) -> dict[str, int]:
        return secret_hits(self.planted, self.posts(), self.files())

    def describe(self, sent: list[Sent]) -> str:
        """The state of a run that did not settle: missing and unfinished commands, queued replies, the log's end."""
        rows = self.journal.commands()
        ids = {r["msg_id"] for r in rows}
        lines = [f"not recorded: {[s.verb for s in sent if s.msg_id not in ids]}"]
        lines += [f"unfinished: {r['id']} {r['verb']} {r['status']} {r['stage']}" for r in rows if r["status"] not in DONE]
        lines += [f"queued: {r['id']} {r['text'][:60]!r}" for r in self.journal.outbox() if r["status"] != "posted"]
        lines.append(f"chat: {len(self.messages())} turns, {len(self.posts())} posts; outbox {len(self.journal.outbox())}")
        tail = self.output.read_text(errors="replace").splitlines()[-40:] if self.output.exists() else []
        return "\n".join(lines + ["--- bridge output ---", *tail])

    def log_text(self) -> str:
        logs = sorted((self.home / "logs").glob("*.log"))
        return "".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)


class JournalView:
    """Read-only queries on a bridge's journal, safe while the bridge writes it."""

    def __init__(self, path: Path, chat_id: str) -> None:
        self.path = path
        self.chat_id = chat_id

    def _rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)) as db:
            db.row_factory = sqlite3.Row
            try:
                return [dict(r) for r in db.execute(sql, args)]
            except sqlite3.OperationalError:  # the schema is not there yet
                return []

    def attached(self) -> bool:
        rows = self._rows("SELECT value FROM chat_state WHERE chat_id = ? AND key = 'attached'", self.chat_id)
        return bool(rows) and json.loads(rows[0]["value"]) is True

    def seen(self, msg_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM messages WHERE chat_id = ? AND msg_id = ?", self.chat_id, msg_id))

    def commands(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM commands WHERE chat_id = ? ORDER BY id", self.chat_id)

    def outbox(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM outbox WHERE chat_id = ? ORDER BY id", self.chat_id)

    def in_flight(self) -> str:
        """Where a kill right now would land: a command mid-way (its stage), replies queued, or idle."""
        running = [r for r in self.commands() if r["status"] == "running"]
        if running:
            return f"mid-command ({running[0]['verb']}, stage {running[0]['stage']})"
        if any(r["status"] == "pending" for r in self.commands()):
            return "command recorded, not started"
        if any(r["status"] == "pending" for r in self.outbox()):
            return "reply queued or being posted"
        return "idle"

    def drained(self) -> bool:
        """Every recorded command finished and every queued reply posted."""
        return all(r["status"] in DONE for r in self.commands()) and all(r["status"] == "posted" for r in self.outbox())
