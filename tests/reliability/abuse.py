"""A bridge world for attacks: a crate copy, its executor and orchestrator under tight limits, with the secrets
of a live bridge planted where it keeps them (an LLM key and a session cookie in the environment, the cookie
in the saved login under the DevSpace home, outside /tmp as in production).

The executor is the in-process one, or a sandbox service (`Remote`: the container attacks)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from bridge.chat.login_secrets import register_login_secrets
from bridge.config import Settings, load_settings
from bridge.example import copy_example
from bridge.journal import Journal
from bridge.models import ChatMessage
from bridge.orchestrator import Orchestrator
from bridge.wiring import make_executor
from sandbox.local import LocalExecutor
from tests.conftest import TEST_IDENTITY
from tests.reliability.conftest import WORLDS
from tests.reliability.leaks import Planted

TIMEOUT = 15.0
PROCESSES = 128
MEMORY_MB = 1024
SLEEP = "4242.4242"  # a duration no other process uses, to find what a fork bomb leaves behind


def new_file_diff(files: dict[str, str]) -> str:
    """A unified diff creating each of `files` (path → text)."""
    parts = []
    for path, text in files.items():
        lines = text.strip("\n").split("\n")
        body = "".join(f"+{line}\n" for line in lines)
        parts.append(f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}")
    return "".join(parts)


class Remote(BaseModel):
    """A sandbox service to attack: its URL and token, the project it serves and the host folder of its state."""

    url: str
    token: str
    project: Path
    state: Path


class Abuse:
    """One world: `patch` sends a developer's patch through the orchestrator and returns MCP's replies."""

    def __init__(self, root: Path, remote: Remote | None = None) -> None:
        self.root = root
        self.project = remote.project if remote else copy_example(root / "trade_report", TEST_IDENTITY)
        cookie = secrets.token_urlsafe(24)
        self.planted = Planted(api_key=secrets.token_hex(20), cookie=cookie)
        limits = {"timeout": TIMEOUT, "processes": PROCESSES, "memory_mb": MEMORY_MB}
        sandbox = {"url": remote.url, "token": remote.token} if remote else {"limits": limits}
        self.settings: Settings = load_settings(
            home=root / "home", project=self.project, llm={"api_key": self.planted.api_key}, sandbox=sandbox
        )
        self.state = remote.state if remote else self.settings.home
        """Where the executor keeps its workspaces (and their cargo logs)."""
        self.session = self.settings.home / "sessions" / "grok.json"
        self.session.parent.mkdir(parents=True)
        self.session.write_text(f'{{"cookies": [{{"name": "sso", "value": "{cookie}"}}], "origins": []}}')
        register_login_secrets(self.session)  # as the driver does when it loads the login
        self.executor = make_executor(self.settings)
        self.orchestrator = Orchestrator(self.executor, Journal(self.settings.home / "journal.db"), self.settings)
        self.chats: list[str] = []

    def posts(self) -> list[str]:
        return [r.text for chat in self.chats for r in self.orchestrator.journal.all_replies(chat)]

    def patch(self, case: str, path: str, text: str) -> str:
        """The developer sends a patch creating `path`; MCP's replies, joined."""
        return self.patch_files(case, {path: text})

    def patch_files(self, case: str, files: dict[str, str]) -> str:
        """The developer sends one patch creating every file of `files`; MCP's replies, joined."""
        self.chats.append(case)
        message = f"@agent code improvement\n```diff\n{new_file_diff(files)}```\n"
        self.orchestrator.handle(ChatMessage(id="m1", role="developer", text=message, chat_id=case))
        return "\n".join(r.text for r in self.orchestrator.journal.pending_replies(case))

    def say(self, case: str, msg_id: str, text: str) -> str:
        """The developer sends any message; MCP's replies to it, joined."""
        self.chats.append(case)
        self.orchestrator.handle(ChatMessage(id=msg_id, role="developer", text=text, chat_id=case))
        return "\n".join(r.text for r in self.orchestrator.journal.pending_replies(case) if r.in_reply_to == msg_id)

    @property
    def local(self) -> LocalExecutor:
        assert isinstance(self.executor, LocalExecutor)
        return self.executor

    def _logs(self) -> list[Path]:
        return sorted(self.state.glob("workspaces/*/logs/*.log"), key=lambda p: p.name)

    def last_log(self) -> str:
        """The full cargo log of the last check (the chat gets its summary)."""
        return self._logs()[-1].read_text(errors="replace")

    def all_logs(self) -> str:
        """Every cargo log the world's checks wrote, joined."""
        return "\n".join(p.read_text(errors="replace") for p in self._logs())

    def leftovers(self) -> list[int]:
        """Processes still running a binary built in the workspace, or the fork bomb's sleeps."""
        target = str(self.local.ws.dir)
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                exe = os.readlink(entry / "exe")
                args = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if exe.startswith(target) or SLEEP.encode() in args:
                found.append(int(entry.name))
        return found


@contextlib.contextmanager
def abuse_world(name: str) -> Iterator[Abuse]:
    """A world under WORLDS whose planted secrets are in the process environment while it lives."""
    root = WORLDS / f"{name}-{uuid.uuid4().hex[:12]}"
    root.mkdir(parents=True)
    world = Abuse(root)
    saved = {k: os.environ.get(k) for k in ("XAI_API_KEY", "CHAT_SESSION_COOKIE")}
    os.environ.update(XAI_API_KEY=world.planted.api_key, CHAT_SESSION_COOKIE=world.planted.cookie)
    try:
        yield world
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        world.local.close()
        shutil.rmtree(root, ignore_errors=True)
