"""Both images run as docker-compose.yml runs them, end to end on a real Docker engine.

    scripts/container-check                      # builds both images, then runs this
    .venv/bin/python benchmarks/container_check.py [--sandbox-image …] [--bridge-image …] [--keep]

Each service gets the compose file's settings (tests/support/compose.py) with one change: the host's network
instead of the file's networks (the sandbox listens on a free loopback port, the bridge reaches it there and
the mock chat on the host). The volumes are named volumes, as Compose makes them; the project is a fresh git
copy of the example crate owned by the developer's uid (DEVSPACE_UID: yours, or 1234 when run as root).
Prints one line per check, the figures it measured, and exits 1 when one fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import git
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.example import copy_example  # noqa: E402
from bridge.mockchat.client import MockChatClient  # noqa: E402
from bridge.protocol.posts import SIGNATURE  # noqa: E402
from sandbox.client import HttpExecutor  # noqa: E402
from sandbox.errors import SandboxError  # noqa: E402
from sandbox.logs import setup_logging  # noqa: E402
from sandbox.models import Identity  # noqa: E402
from sandbox.operations import ApplyRequest, CheckTestRequest, CommitRequest, StatusRequest  # noqa: E402
from tests.conftest import TEST_IDENTITY  # noqa: E402
from tests.support import compose  # noqa: E402

WORK = Path(tempfile.gettempdir()) / "devspace-container-check"
"""Where each run's folders go: somewhere the developer's uid can reach (its git runs there as them)."""
PROJECT, SANDWICHES, STATE = "/app/trade_report", "/app/sandwiches", "/var/lib/devspace"
DEVELOPER = Identity(name="Dev", email="dev@example.com")
CHANGE = "src/date.rs\n```rust\n<<<<<<< SEARCH\n    day\n}\n=======\n    day // checked in the container\n}\n>>>>>>> REPLACE\n```\n"
HUMAN_WAIT = 30.0
"""The bridge's wait before it reopens a logged-out chat with the saved login (bridge.runner.HUMAN_WAIT)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def docker(*argv: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *argv], input=stdin, capture_output=True, text=True, check=check, timeout=600)


def wait_for(what: str, probe: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.5)


class Deployment:
    """The two services' containers, their volumes and files, and the mock chat on the host."""

    def __init__(self, sandbox_image: str, bridge_image: str, root: Path) -> None:
        self.id = uuid.uuid4().hex[:8]
        self.root = root
        self.sandbox_image, self.bridge_image = sandbox_image, bridge_image
        self.uid = os.getuid() or 1234
        self.project = copy_example(root / "trade_report", TEST_IDENTITY)
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", f"{self.uid}:{self.uid}", str(self.project)], check=True)
            # root's reads stand in for the developer's own git, to whom the checkout belongs
            os.environ.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="safe.directory", GIT_CONFIG_VALUE_0=str(self.project))
        self.token = uuid.uuid4().hex * 2
        self.token_file = root / "sandbox_token"
        self.token_file.write_text(self.token + "\n")
        self.sandbox_port, self.chat_port = free_port(), free_port()
        self.chat_id = str(uuid.uuid4())
        self.chat_url = f"http://127.0.0.1:{self.chat_port}/chat/{self.chat_id}"
        self.config = root / "devspace.yaml"
        self.config.write_text(f"chat:\n  profile: mock\n  url: {self.chat_url}\nsandbox:\n  limits:\n    timeout: 300\n")
        for path in (self.token_file, self.config):
            path.chmod(0o644)
        self.volumes = {name: f"devspace-check-{self.id}-{name}" for name in ("sandwiches", "sandbox-home", "bridge-home")}
        self.sandbox_name, self.bridge_name = f"devspace-check-{self.id}-sandbox", f"devspace-check-{self.id}-bridge"
        self.mock_process: subprocess.Popen[bytes] | None = None
        self.mock = MockChatClient(f"http://127.0.0.1:{self.chat_port}")

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def developer_git(self, *args: str) -> str:
        """git in the mounted project as the developer runs it: as their uid (root drops to it)."""
        as_developer = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups"] if os.getuid() == 0 else []
        env = {**os.environ, "HOME": str(self.root)}
        done = subprocess.run([*as_developer, "git", "-C", str(self.project), *args], capture_output=True, text=True, env=env, check=True)
        return done.stdout

    def executor(self) -> HttpExecutor:
        return HttpExecutor(self.sandbox_url, token=self.token, timeout=600)

    def start_sandbox(self) -> None:
        args = compose.run_args(
            "sandbox",
            volumes={PROJECT: str(self.project), SANDWICHES: self.volumes["sandwiches"], STATE: self.volumes["sandbox-home"]},
            secrets={"sandbox_token": self.token_file},
            configs={"devspace": self.config},
            user=f"{self.uid}:{self.uid}",
        )
        docker("run", "-d", "--name", self.sandbox_name, *args, self.sandbox_image, *compose.command("sandbox", self.sandbox_port))

    def healthy(self) -> bool:
        """The compose file's health check, run in the container as the engine runs it."""
        argv = compose.healthcheck("sandbox", {"http://127.0.0.1:8800": self.sandbox_url})
        return docker("exec", self.sandbox_name, *argv, check=False).returncode == 0

    def start_mock_chat(self) -> None:
        argv = [sys.executable, "-m", "bridge.mockchat", "--port", str(self.chat_port)]
        self.mock_process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("the mock chat", lambda: _answers(f"http://127.0.0.1:{self.chat_port}/login"), 60)

    def start_bridge(self) -> None:
        args = compose.run_args(
            "bridge",
            volumes={STATE: self.volumes["bridge-home"]},
            secrets={"sandbox_token": self.token_file},
            configs={"devspace": self.config},
            environment={"DEVSPACE_SANDBOX__URL": self.sandbox_url},
        )
        docker("run", "-d", "--name", self.bridge_name, *args, self.bridge_image, *compose.service("bridge")["command"])

    def state(self, name: str) -> dict[str, object]:
        """The container's `State`, with its `RestartCount`."""
        inspected = json.loads(docker("inspect", name).stdout)[0]
        return {**inspected["State"], "RestartCount": inspected["RestartCount"]}

    def logs(self, name: str) -> str:
        done = docker("logs", name, check=False)
        return done.stdout + done.stderr

    def posts(self) -> list[str]:
        return [m.markdown for m in self.mock.messages(self.chat_id) if m.role == "user" and m.markdown.rstrip().endswith(SIGNATURE)]

    def close(self, keep: bool) -> None:
        if self.mock_process is not None:
            self.mock_process.terminate()
            self.mock_process.wait(10)
        self.mock.close()
        if keep:
            return
        docker("rm", "-f", self.sandbox_name, self.bridge_name, check=False)
        docker("volume", "rm", *self.volumes.values(), check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[bool, str, str]] = []

    def check(self, ok: bool, what: str, evidence: str) -> bool:
        self.rows.append((ok, what, evidence))
        print(f"{'ok    ' if ok else 'FAILED'}  {what}: {' '.join(evidence.split())[:220]}", flush=True)
        return ok


def run(d: Deployment, report: Report) -> None:
    started = time.monotonic()
    d.start_sandbox()
    try:
        wait_for("the sandbox's health check", d.healthy, 120)
        report.check(True, "sandbox healthy (compose health check)", f"after {time.monotonic() - started:.1f}s")
    except TimeoutError as exc:
        report.check(False, "sandbox healthy (compose health check)", f"{exc}; {d.logs(d.sandbox_name)[-600:]}")
        return
    anonymous = httpx.get(f"{d.sandbox_url}/status", timeout=10)
    wrong = httpx.get(f"{d.sandbox_url}/status", headers={"Authorization": "Bearer nope"}, timeout=10)
    report.check(anonymous.status_code == 401 and wrong.status_code == 401, "a request without the token is refused", f"no token {anonymous.status_code}, wrong token {wrong.status_code}")

    ex = d.executor()
    applied = ex.run(ApplyRequest(payload=CHANGE))
    cold = ex.run(CheckTestRequest())
    report.check(applied.ok and cold.ok, "apply, then `cargo test` under bubblewrap", f"apply ok={applied.ok}; {len(cold.tests)} tests ok={cold.ok} in {cold.duration:.1f}s (cold) {cold.error or ''}")
    isolation = ex.run(StatusRequest()).isolation
    report.check(isolation == "bwrap", "every cargo run in its own bubblewrap sandbox", f"isolation {isolation}")
    home = docker("exec", d.sandbox_name, "sh", "-c", 'id -u; stat -c "%U %a" "$HOME"; mkdir -p "$CARGO_HOME" && echo cargo-home-made', check=False).stdout
    report.check("cargo-home-made" in home, "the cargo home is made in the tmpfs home (any runc)", " / ".join(home.split("\n")))

    probe = "import importlib.util as u; print(*[m for m in ('playwright', 'openai', 'websockets') if u.find_spec(m)] or ['none'])"
    extra = docker("exec", d.sandbox_name, "python3", "-c", probe, check=False).stdout.strip()
    report.check(extra == "none", "the sandbox image holds none of the bridge's packages", f"browser, LLM client, WebSockets found: {extra}")

    committed = ex.run(CommitRequest(message="Check the date in the container", author=DEVELOPER))
    repo = git.Repo(d.project)
    branch = repo.commit("devspace/mcp")
    ref = d.project / ".git" / "refs" / "heads" / "devspace" / "mcp"
    packed = not ref.exists()
    owner = (d.project / ".git" / "objects" / branch.hexsha[:2] / branch.hexsha[2:]).stat().st_uid  # written by the commit
    lands = branch.hexsha == committed.sha and "Check the date" in str(branch.message) and owner == d.uid
    report.check(lands, "the commit lands on devspace/mcp of the mounted project, as the developer's uid", f"{committed.sha[:10]} {branch.summary!r}; its object's uid {owner} (DEVSPACE_UID {d.uid}){'; ref packed' if packed else ''}")

    assert ex.run(ApplyRequest(payload=CHANGE.replace("container\n", "container again\n").replace("    day\n}\n=", "    day // checked in the container\n}\n="))).ok
    docker("restart", d.sandbox_name)
    wait_for("the sandbox after a restart", d.healthy, 120)
    after = d.executor().run(StatusRequest())
    warm = d.executor().run(CheckTestRequest())
    kept = after.pending == ["src/date.rs"] and after.patches == 1
    report.check(kept, "a restart keeps the workspace", f"pending {after.pending}, patches {after.patches}")
    report.check(warm.ok and warm.duration < cold.duration / 2, "the build stays incremental after a restart", f"`cargo test` {warm.duration:.1f}s after the restart vs {cold.duration:.1f}s cold")

    d.developer_git("worktree", "prune")
    d.developer_git("gc", "--quiet")
    listed = d.developer_git("worktree", "list")
    try:
        status = d.executor().run(StatusRequest())
        survived = status.pending == ["src/date.rs"]
        shown = f"status after the host's `git worktree prune` and `git gc`: pending {status.pending}"
    except SandboxError as exc:
        survived, shown = False, f"{type(exc).__name__}: {exc}"
    report.check(survived, "a host-side `git worktree prune` leaves the sandbox working", f"{shown}; host sees: {' | '.join(listed.splitlines()[1:])}")
    for lock in (d.project / ".git" / "worktrees").glob("*/locked"):
        lock.unlink()
    d.developer_git("worktree", "prune")  # a prune with the locks gone: the registration is made again in place
    docker("restart", d.sandbox_name)
    try:
        wait_for("the sandbox after a forced prune and a restart", d.healthy, 120)
        status = d.executor().run(StatusRequest())
        crashes = d.state(d.sandbox_name)["RestartCount"]
        report.check(status.pending == ["src/date.rs"] and crashes == 0, "a registration pruned anyway is made again (after a restart)", f"pending {status.pending}; crash restarts {crashes}")
    except (TimeoutError, SandboxError) as exc:
        report.check(False, "a registration pruned anyway is made again (after a restart)", f"{exc}; {d.logs(d.sandbox_name)[-600:]}")

    d.start_mock_chat()
    d.start_bridge()
    time.sleep(10)
    state = d.state(d.bridge_name)
    waiting = "LoggedOut" in d.logs(d.bridge_name)
    report.check(bool(state["Running"]) and state["RestartCount"] == 0 and waiting, "the bridge starts logged out and waits (no restart loop)", f"running {state['Running']}, restarts {state['RestartCount']}; log: {_last(d.logs(d.bridge_name), 'LoggedOut')}")

    session = json.dumps(d.mock.storage_state())
    handed = docker("exec", "-i", d.bridge_name, "devspace", "login", "--profile", "mock", "--import", "-", check=False, stdin=session)
    saved = docker("exec", d.bridge_name, "stat", "-c", "%U %a %n", f"{STATE}/sessions/mock.json", check=False).stdout.strip()
    report.check(handed.returncode == 0 and saved.startswith("devspace 600"), "the login hand-over (`devspace login --import -`)", f"{handed.stdout.strip() or handed.stderr.strip()}; {saved}")

    try:
        wait_for("the bridge to attach", lambda: "attached to chat" in d.logs(d.bridge_name) or "resuming chat" in d.logs(d.bridge_name), HUMAN_WAIT + 60)
        asked = time.monotonic()
        d.mock.inject(d.chat_id, "@agent code test", reply=False)
        posts = wait_for("the reply to @agent code test", d.posts, 180)
        took = time.monotonic() - asked
        first = str(posts[0]).splitlines()[0]  # type: ignore[index]
        report.check("test" in first.lower(), "the bridge attaches to the chat and answers `@agent code test`", f"{took:.1f}s: {first}")
    except TimeoutError as exc:
        report.check(False, "the bridge attaches to the chat and answers `@agent code test`", f"{exc}; {d.logs(d.bridge_name)[-800:]}")
    state = d.state(d.bridge_name)
    report.check(bool(state["Running"]) and state["RestartCount"] == 0, "the bridge never restarted", f"running {state['Running']}, restarts {state['RestartCount']}")


def _last(log: str, needle: str) -> str:
    return next((line for line in reversed(log.splitlines()) if needle in line), "(none)")[-200:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sandbox-image", default="colloqium/devspace-sandbox:0.1.0")
    parser.add_argument("--bridge-image", default="colloqium/devspace-bridge:0.1.0")
    parser.add_argument("--keep", action="store_true", help="leave the containers, volumes and folders for a look")
    args = parser.parse_args()
    setup_logging("ERROR")
    for image in (args.sandbox_image, args.bridge_image):
        size = int(docker("image", "inspect", "-f", "{{.Size}}", image).stdout)
        print(f"image {image}: {size / 1e6:.0f} MB")
    WORK.mkdir(mode=0o755, exist_ok=True)
    d = Deployment(args.sandbox_image, args.bridge_image, WORK / uuid.uuid4().hex[:12])
    report = Report()
    started = time.monotonic()
    try:
        run(d, report)
    except Exception as exc:  # a step the checks did not expect: report it with both services' logs
        report.check(False, "the run", f"{type(exc).__name__}: {exc}")
        print(f"--- sandbox log\n{d.logs(d.sandbox_name)[-2000:]}\n--- bridge log\n{d.logs(d.bridge_name)[-2000:]}")
    finally:
        d.close(args.keep)
    passed = sum(ok for ok, _, _ in report.rows)
    print(f"\nchecks passed: {passed}/{len(report.rows)} ({time.monotonic() - started:.0f}s)")
    return 0 if passed == len(report.rows) else 1


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
