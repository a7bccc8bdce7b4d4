"""Containment: nothing a patch, a build or a test does reaches outside the sandbox.

One test per kind of escape (the attacks are in attacks.py), each through the real pipeline: a
developer's patch in the chat, the orchestrator, the executor, real bubblewrap, real cargo and real
git on a crate copy, with the secrets of a live bridge planted (see abuse.py).
"""

from __future__ import annotations

import os
import socket
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.isolation import isolation_available
from sandbox.models import Identity
from tests.reliability import attacks
from tests.reliability.abuse import Abuse, abuse_world
from tests.reliability.leaks import secret_hits

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.cargo,
    pytest.mark.skipif(not isolation_available(), reason="bubblewrap cannot build its sandbox here: these attacks would run unconfined"),
]

ROLLBACK_WAIT = 120.0
"""Seconds a patch cycle may take before the test calls it blocked (a cycle takes a few seconds)."""


@pytest.fixture
def abuse() -> Iterator[Abuse]:
    with abuse_world("containment") as world:
        yield world


def run_git_steps(abuse: Abuse, case: str) -> list[str]:
    """Every host-side git step after a build: status, the file index, a commit and its revert."""
    replies = [abuse.say(case, f"{case}-status", "@agent status"), abuse.say(case, f"{case}-files", "@agent code files")]
    replies.append(abuse.say(case, f"{case}-commit", "@agent commit [msg: tidy up]"))
    replies.append(abuse.say(case, f"{case}-undo", "@agent undo"))
    return replies


def assert_no_secret(abuse: Abuse) -> None:
    files = [p for p in abuse.settings.home.rglob("*") if p.is_file() and "sessions" not in p.parts]
    assert secret_hits(abuse.planted, abuse.posts(), files) == {}


# git metadata ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "attack"),
    [("build.rs", attacks.git_escape_build_rs), ("tests/tidy.rs", attacks.git_escape_test)],
    ids=["build-script", "integration-test"],
)
def test_a_build_cannot_make_the_executors_git_run_a_command(abuse: Abuse, path: str, attack: object) -> None:
    """The build points the worktree's `.git` at a git dir whose config sets core.fsmonitor and hooks, and plants a
    nested repository; no later git step of the executor (status, files, commit, revert) may run them."""
    marker = abuse.root / f"pwned-{uuid.uuid4().hex[:8]}"
    pointer = (abuse.local.ws.tree / ".git").read_text()
    assert callable(attack)
    reply = abuse.patch(f"escape-{path}", path, attack(str(marker)))
    report = abuse.local.ws.tree / "escape-report.txt"
    assert report.exists() and "setup=Ok" in report.read_text(), reply  # the attack ran
    steps = run_git_steps(abuse, f"escape-{path}")
    assert not marker.exists(), f"the build ran a command on the host: {marker.read_text()}"
    assert (abuse.local.ws.tree / ".git").read_text() == pointer
    assert not (abuse.local.ws.tree / "src/nested/.git").exists()
    assert any("committed" in s.lower() or "commit " in s.lower() for s in steps), steps
    assert_no_secret(abuse)


def test_the_users_own_git_config_does_not_run_on_the_workspace(abuse: Abuse, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's ~/.gitconfig with an fsmonitor command and a hooks folder: the executor's git ignores both."""
    home = abuse.root / "user-home"
    hooks = home / "hooks"
    hooks.mkdir(parents=True)
    marker = abuse.root / "pwned-user-config"
    for hook in ("pre-commit", "post-commit", "prepare-commit-msg", "commit-msg", "post-checkout"):
        (hooks / hook).write_text(f"#!/bin/sh\necho {hook} >> {marker}\n")
        (hooks / hook).chmod(0o755)
    (home / ".gitconfig").write_text(f'[core]\n\tfsmonitor = "echo fsmonitor >> {marker}; false"\n\thooksPath = {hooks}\n')
    for name in ("CARGO_HOME", "RUSTUP_HOME"):  # the toolchain stays where it is
        monkeypatch.setenv(name, os.environ.get(name) or str(Path.home() / f".{name.split('_')[0].lower()}"))
    monkeypatch.setenv("HOME", str(home))
    reply = abuse.patch("user-config", "src/extra.rs", "pub fn extra() -> u32 { 1 }")
    assert reply.startswith("@all Updated"), reply
    run_git_steps(abuse, "user-config")
    assert not marker.exists(), f"the user's git config ran: {marker.read_text()}"


def test_git_gets_no_secret_from_the_executors_environment(abuse: Abuse, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every git process the executor starts (GitPython's included) gets a clean environment: a `git` first on
    PATH records the environment each one received."""
    bin_dir = abuse.root / "bin"
    bin_dir.mkdir()
    seen = abuse.root / "git-environments.txt"
    real_git = "/usr/bin/git" if Path("/usr/bin/git").exists() else "git"
    (bin_dir / "git").write_text(f'#!/bin/sh\nenv >> {seen}\necho ---- >> {seen}\nexec {real_git} "$@"\n')
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    ex = abuse.executor
    assert ex.apply("`src/extra.rs`:\n```rust\npub fn extra() {}\n```\n").ok
    ex.status()
    ex.files()
    ex.commit("extra", Identity(name="Dev", email="dev@example.com"))
    ex.undo()
    recorded = seen.read_text()
    assert recorded.count("----") >= 4  # the wrapper saw the executor's git processes
    assert abuse.planted.api_key not in recorded and abuse.planted.cookie not in recorded
    assert "XAI_API_KEY" not in recorded and "CHAT_SESSION_COOKIE" not in recorded


# what the sandbox can read ------------------------------------------------------------------------
def test_host_files_stay_out_of_a_panic_message(abuse: Abuse) -> None:
    """A failing test reads host files and lists folders into its panic message: none exists inside."""
    planted = abuse.root / "planted.txt"
    planted.write_text(f"PLANTED-{uuid.uuid4().hex}")
    targets = [
        str(planted),  # a file in the user's home, outside the workspace
        "/etc/shadow",
        str(Path.home() / ".gitconfig"),
        str(abuse.project / "Cargo.toml"),  # the user's checkout
        str(abuse.settings.home),  # the DevSpace home
        str(abuse.session),  # the saved login
        "/run",
    ]
    reply = abuse.patch("host-files", "tests/host_files.rs", attacks.read_host_files(targets))
    assert "DENIED" in reply, reply
    for target in targets:
        assert f"READ {target}:" not in reply and f"LISTED {target}:" not in reply, reply
        assert f"DENIED {target}: No such file or directory" in reply, reply
    assert planted.read_text() not in reply + abuse.all_logs()
    assert_no_secret(abuse)


def test_a_host_file_cannot_be_compiled_in(abuse: Abuse) -> None:
    planted = abuse.root / "embedded.txt"
    planted.write_text(f"EMBEDDED-{uuid.uuid4().hex}")
    reply = abuse.patch("include-str", "tests/embedded.rs", attacks.include_host_file(str(planted)))
    assert planted.read_text() not in reply + abuse.all_logs()
    assert "The patch was rolled back" in reply, reply
    assert "couldn't read" in reply and "No such file or directory" in reply, reply


# what the sandbox can write ---------------------------------------------------------------------------
def test_a_build_cannot_poison_cargos_registry_cache(abuse: Abuse, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build script appends code to a cached crate's source and adds a file beside it: both refused."""
    cargo_home = abuse.root / "cargo-home"
    crate = cargo_home / "registry" / "src" / "index.crates.io-0000000000000000" / "dep-1.0.0"
    (crate / "src").mkdir(parents=True)
    (crate / "src" / "lib.rs").write_text("pub fn dep() {}\n")
    monkeypatch.setenv("CARGO_HOME", str(cargo_home))
    reply = abuse.patch("poison", "build.rs", attacks.poison_registry(str(crate)))
    assert "POISON" in abuse.all_logs(), reply
    assert (crate / "src" / "lib.rs").read_text() == "pub fn dep() {}\n"
    assert not (crate / "src" / "planted.rs").exists()
    assert "append=Err" in abuse.all_logs() and "create=Err" in abuse.all_logs()


def test_a_host_unix_socket_is_out_of_reach(abuse: Abuse) -> None:
    """A listening socket of the host (an agent, a daemon) under a folder the build could see before."""
    path = abuse.root / "agent.sock"
    received: list[bytes] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        server.settimeout(0.5)

        def accept() -> None:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                with conn:
                    received.append(conn.recv(100))

        stop = threading.Event()
        listener = threading.Thread(target=accept, daemon=True)
        listener.start()
        try:
            reply = abuse.patch("socket", "tests/knock.rs", attacks.connect_socket(str(path)))
        finally:
            stop.set()
            listener.join(5)
    assert received == [], reply
    assert "tests/knock.rs: 1 passed" in reply, reply  # the connection failed inside


# what the executor reads back ------------------------------------------------------------------------
def test_a_fifo_swapped_in_by_a_build_does_not_block_the_rollback(abuse: Abuse) -> None:
    """The build replaces the file the patch wrote with a FIFO and fails: the rollback must not read from the FIFO,
    must restore the patch's files (here: remove build.rs), and must leave the workspace usable."""
    tree = abuse.local.ws.tree
    replies: list[str] = []
    cycle = threading.Thread(target=lambda: replies.append(abuse.patch("fifo", "build.rs", attacks.fifo_swap("build.rs"))), daemon=True)
    cycle.start()
    cycle.join(ROLLBACK_WAIT)
    if cycle.is_alive():
        fifo = tree / "build.rs"
        if fifo.exists() and stat.S_ISFIFO(fifo.lstat().st_mode):
            with open(fifo, "wb"):  # let the blocked reader go, so the test run can end
                pass
        cycle.join(30)
        pytest.fail("the rollback blocked on the FIFO the build left (and held the workspace lock)")
    reply = replies[0]
    assert "FIFO removed=Ok" in abuse.all_logs(), reply
    assert "The patch was rolled back" in reply, reply
    assert not os.path.lexists(tree / "build.rs")
    assert abuse.executor.status().pending == []


# secrets ---------------------------------------------------------------------------------------------
def test_a_secret_typed_into_the_chat_is_never_stored(abuse: Abuse) -> None:
    """The developer pastes the API key into a command: the journal keeps (and runs) the command redacted."""
    assert abuse.executor.apply("`src/extra.rs`:\n```rust\npub fn extra() {}\n```\n").ok
    abuse.say("typed", "t1", f"@agent commit [msg: rotate the key {abuse.planted.api_key} next week]")
    assert_no_secret(abuse)
    message = abuse.local.ws.repo.head.commit.message
    assert "rotate the key [redacted] next week" in str(message)
