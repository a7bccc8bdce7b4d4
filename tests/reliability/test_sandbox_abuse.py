"""Code from the chat that attacks the machine: each arrives as a developer's patch, runs in the real
sandbox (bubblewrap, limits) when the patch is checked, and must be stopped, reported and rolled back.

The secrets of a live bridge are planted: an LLM key and a chat session cookie in the environment,
and the cookie in the saved login under the DevSpace home (outside /tmp, as in production).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.config import Settings, load_settings
from bridge.example import copy_example
from bridge.journal import Journal
from bridge.models import ChatMessage
from bridge.orchestrator import Orchestrator
from bridge.chat.login_secrets import register_login_secrets
from sandbox.cgroup import pids_available
from sandbox.isolation import isolation_available
from sandbox.local import LocalExecutor
from tests.conftest import TEST_IDENTITY
from tests.reliability.conftest import WORLDS
from tests.reliability.leaks import Planted, secret_hits

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.cargo,
    pytest.mark.skipif(not isolation_available(), reason="bubblewrap cannot build its sandbox here: these attacks would run unconfined"),
]

TIMEOUT = 15.0
PROCESSES = 128
MEMORY_MB = 1024
SLEEP = "4242.4242"  # a duration no other process uses, to find what a fork bomb leaves behind


class Abuse:
    """A crate copy, its executor and orchestrator under tight limits, with secrets planted where a bridge keeps them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        project = copy_example(root / "trade_report", TEST_IDENTITY)
        cookie = secrets.token_urlsafe(24)
        self.planted = Planted(api_key=secrets.token_hex(20), cookie=cookie)
        limits = {"timeout": TIMEOUT, "processes": PROCESSES, "memory_mb": MEMORY_MB}
        self.settings: Settings = load_settings(
            home=root / "home", project=project, llm={"api_key": self.planted.api_key}, sandbox={"limits": limits}
        )
        self.session = self.settings.home / "sessions" / "grok.json"
        self.session.parent.mkdir(parents=True)
        self.session.write_text(f'{{"cookies": [{{"name": "sso", "value": "{cookie}"}}], "origins": []}}')
        register_login_secrets(self.session)  # as the driver does when it loads the login
        self.executor = LocalExecutor(project, self.settings.sandbox_config())
        self.orchestrator = Orchestrator(self.executor, Journal(self.settings.home / "journal.db"), self.settings)
        self.chats: list[str] = []

    def posts(self) -> list[str]:
        return [r.text for chat in self.chats for r in self.orchestrator.journal.all_replies(chat)]

    def patch(self, case: str, path: str, text: str) -> str:
        """The developer sends a patch creating `path`; MCP's replies, joined."""
        self.chats.append(case)
        lines = text.strip("\n").split("\n")
        body = "".join(f"+{line}\n" for line in lines)
        message = f"@agent code improvement\n```diff\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}```\n"
        self.orchestrator.handle(ChatMessage(id="m1", role="developer", text=message, chat_id=case))
        return "\n".join(r.text for r in self.orchestrator.journal.pending_replies(case))

    def last_log(self) -> str:
        """The full cargo log of the last check (the chat gets its summary)."""
        return max(self.executor.ws.logs.glob("*.log")).read_text(errors="replace")

    def leftovers(self) -> list[int]:
        """Processes still running a binary built in the workspace, or the fork bomb's sleeps."""
        target = str(self.executor.ws.dir)
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


@pytest.fixture(scope="module")
def abuse() -> Iterator[Abuse]:
    root = WORLDS / f"abuse-{uuid.uuid4().hex[:12]}"
    root.mkdir(parents=True)
    world = Abuse(root)
    saved = {k: os.environ.get(k) for k in ("XAI_API_KEY", "CHAT_SESSION_COOKIE")}
    os.environ.update(XAI_API_KEY=world.planted.api_key, CHAT_SESSION_COOKIE=world.planted.cookie)
    yield world
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(root, ignore_errors=True)


def assert_contained(abuse: Abuse, reply: str, *, kept: bool = False) -> None:
    """Rolled back (or `kept`: a new failing test is no regression, so the patch stays until undone), nothing
    left running, no secret anywhere the run wrote."""
    if kept:
        assert reply.startswith("@all Updated"), reply
        abuse.executor.undo()
    else:
        assert "The patch was rolled back" in reply, reply
    assert abuse.executor.ws.pending() == []
    assert abuse.leftovers() == []
    posts = abuse.posts()
    files = [p for p in abuse.settings.home.rglob("*") if p.is_file() and "sessions" not in p.parts]
    assert secret_hits(abuse.planted, posts, files) == {}


ENDLESS = """
#[test]
fn endless() {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}
"""


def test_an_endless_test_is_stopped_at_the_timeout_and_reported(abuse: Abuse) -> None:
    reply = abuse.patch("endless", "tests/endless.rs", ENDLESS)
    assert f"timed out after {TIMEOUT:.0f}s while running the tests" in reply, reply
    assert_contained(abuse, reply)


MEMORY_HOG = """
fn main() {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; 64 << 20];
        for i in (0..block.len()).step_by(4096) {
            block[i] = 1;
        }
        held.push(block);
        eprintln!("holding {} MiB", held.len() * 64);
    }
}
"""


def test_a_memory_hog_in_build_rs_hits_the_memory_limit(abuse: Abuse) -> None:
    reply = abuse.patch("hog", "build.rs", MEMORY_HOG)
    assert "failed to run custom build command" in reply, reply
    log = abuse.last_log()
    assert "memory allocation of 67108864 bytes failed" in log
    held = [int(n) for n in re.findall(r"holding (\d+) MiB", log)]
    assert held and max(held) < MEMORY_MB  # it never got past the address-space limit
    assert_contained(abuse, reply)


FORK_BOMB = f"""
use std::process::{{Command, Stdio}};

fn main() {{
    let mut children = Vec::new();
    for _ in 0..2000 {{
        let child = Command::new("sleep").arg("{SLEEP}").stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        match child {{
            Ok(child) => children.push(child),
            Err(err) => {{
                panic!("spawn refused after {{}} processes: {{}}", children.len(), err);
            }}
        }}
    }}
    panic!("spawned all {{}} processes", children.len());
}}
"""


@pytest.mark.skipif(not pids_available(), reason="no writable pids cgroup here: a fork bomb is bounded only by the timeout")
def test_a_fork_bomb_in_build_rs_hits_the_process_limit(abuse: Abuse) -> None:
    reply = abuse.patch("fork-bomb", "build.rs", FORK_BOMB)
    assert "failed to run custom build command" in reply, reply
    found = re.search(r"spawn refused after (\d+) processes", abuse.last_log())
    assert found is not None and int(found[1]) < PROCESSES
    assert_contained(abuse, reply)


def test_a_test_cannot_reach_the_network(abuse: Abuse) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        probe = f"""
#[test]
fn phone_home() {{
    let sent = std::net::TcpStream::connect(("127.0.0.1", {port}));
    assert!(sent.is_ok(), "network: {{:?}}", sent.err());
}}
"""
        reply = abuse.patch("network", "tests/phone_home.rs", probe)
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing ever connected
    assert "network: Some(" in reply and "ConnectionRefused" in reply, reply
    assert_contained(abuse, reply, kept=True)


def test_a_test_that_prints_the_environment_and_the_login_leaks_nothing(abuse: Abuse) -> None:
    journal = abuse.settings.home / "journal.db"
    probe = f"""
#[test]
fn leak() {{
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{{k}}={{v}}")).collect();
    let login = std::fs::read_to_string({json.dumps(str(abuse.session))}).unwrap_or_else(|e| format!("login unreadable: {{e}}"));
    let journal = std::fs::read({json.dumps(str(journal))}).map(|b| b.len().to_string()).unwrap_or_else(|e| format!("journal unreadable: {{e}}"));
    let mut parents = String::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {{
        if let Ok(bytes) = std::fs::read(entry.path().join("environ")) {{
            parents.push_str(&String::from_utf8_lossy(&bytes));
        }}
    }}
    println!("ENV {{env:?}} LOGIN {{login}} JOURNAL {{journal}} PROC {{parents}}");
    panic!("LOGIN {{login}}\\nJOURNAL {{journal}}\\nENV {{env:?}}");
}}
"""
    reply = abuse.patch("environment", "tests/leak.rs", probe)
    assert 'ENV ["' in reply, reply  # the test ran and its output reached the chat (the source shows `ENV {env:?}`)
    hidden = "unreadable: No such file or directory"  # the DevSpace home is an empty folder inside the sandbox
    assert f"LOGIN login {hidden}" in reply and f"JOURNAL journal {hidden}" in reply, reply
    assert_contained(abuse, reply, kept=True)
