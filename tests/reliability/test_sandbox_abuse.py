"""Code from the chat that attacks the machine: each arrives as a developer's patch, runs in the real
sandbox (bubblewrap, limits) when the patch is checked, and must be stopped, reported and rolled back.

The secrets of a live bridge are planted: an LLM key and a chat session cookie in the environment,
and the cookie in the saved login under the DevSpace home (outside /tmp, as in production).
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator

import pytest

from sandbox.cgroup import pids_available
from sandbox.isolation import isolation_available
from tests.reliability.abuse import (
    MEMORY_MB,
    PROCESSES,
    SLEEP,
    TIMEOUT,
    Abuse,
    abuse_world,
)
from tests.reliability.leaks import secret_hits

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.cargo,
    pytest.mark.skipif(not isolation_available(), reason="bubblewrap cannot build its sandbox here: these attacks would run unconfined"),
]

@pytest.fixture(scope="module")
def abuse() -> Iterator[Abuse]:
    with abuse_world("abuse") as world:
        yield world


def assert_contained(abuse: Abuse, reply: str) -> None:
    """Rolled back (a new failing test degrades the project too), nothing left running, no secret anywhere the run wrote."""
    assert "The patch was rolled back" in reply, reply
    assert abuse.local.ws.pending() == []
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
    assert_contained(abuse, reply)


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
    hidden = "unreadable: No such file or directory"  # the DevSpace home does not exist inside the sandbox
    assert f"LOGIN login {hidden}" in reply and f"JOURNAL journal {hidden}" in reply, reply
    assert_contained(abuse, reply)
