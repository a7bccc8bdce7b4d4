"""The containment attacks against the sandbox container, through its REST API, as docker-compose.yml runs it.

    scripts/container-attacks                      # builds the image, then runs this
    .venv/bin/python benchmarks/container_attacks.py --image colloqium/devspace-sandbox:dev [--keep]

The container gets the compose file's sandbox settings (read-only root, no capabilities, its
security options and seccomp profile, tmpfs mounts, limits, user, environment, the token as a
secret file), with two changes this machine needs: the host's network (the service listens on a
free loopback port) and temporary host folders for its volumes. An LLM key is also put in its
environment, as a misconfiguration would. Each attack arrives as a developer's patch through the
bridge's orchestrator and the HTTP executor (tests/reliability/attacks.py holds the code); the
table says, per attack, whether containment held and what shows it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.example import copy_example  # noqa: E402
from sandbox.client import HttpExecutor  # noqa: E402
from sandbox.errors import SandboxError  # noqa: E402
from sandbox.logs import setup_logging  # noqa: E402
from sandbox.operations import StatusRequest, UndoRequest  # noqa: E402
from tests.conftest import TEST_IDENTITY  # noqa: E402
from tests.reliability import attacks  # noqa: E402
from tests.reliability.abuse import Abuse, Remote  # noqa: E402
from tests.support import compose  # noqa: E402

WORLDS = Path.home() / ".cache" / "devspace-container-attacks"
STATE, PROJECT, TOKEN_FILE = "/var/lib/devspace", "/app/trade_report", "/run/secrets/sandbox_token"
UID = 10001
REQUEST_TIMEOUT = 300.0
"""Seconds one REST call may take before the service counts as blocked (a patch cycle takes seconds)."""
"""The developer's uid in the attack (compose's DEVSPACE_UID); the folders it mounts are given to it."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Container:
    """The sandbox service in a container, started with the compose file's settings for it."""

    def __init__(self, image: str, root: Path, planted_key: str) -> None:
        self.name = f"devspace-attacks-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.root = root
        self.state = root / "state"
        self.project = copy_example(root / "trade_report", TEST_IDENTITY)
        self.token = uuid.uuid4().hex + uuid.uuid4().hex
        (root / "sandbox_token").write_text(self.token + "\n")
        (root / "devspace.yaml").write_text("sandbox:\n  limits:\n    timeout: 120\n")
        for folder in (self.state, root / "sandwiches"):
            folder.mkdir()
        for path in (self.project, self.state, root / "sandwiches"):
            subprocess.run(["chown", "-R", f"{UID}:{UID}", str(path)], check=True)
        for path in (root / "sandbox_token", root / "devspace.yaml"):
            path.chmod(0o644)
        self.argv = ["docker", "run", "-d", "--name", self.name, *self._flags(planted_key), image, *compose.command("sandbox", self.port)]

    def _flags(self, planted_key: str) -> list[str]:
        return compose.run_args(
            "sandbox",
            volumes={PROJECT: str(self.project), "/app/sandwiches": str(self.root / "sandwiches"), STATE: str(self.state)},
            secrets={"sandbox_token": self.root / "sandbox_token"},
            configs={"devspace": self.root / "devspace.yaml"},
            environment={"XAI_API_KEY": planted_key},
            user=f"{UID}:{UID}",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        subprocess.run(self.argv, check=True, capture_output=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the sandbox container did not turn healthy:\n{self.logs()}")

    def exec(self, *argv: str, detach: bool = False) -> str:
        cmd = ["docker", "exec", *(["-d"] if detach else []), self.name, *argv]
        return subprocess.run(cmd, check=False, capture_output=True, text=True).stdout

    def exists(self, path: str) -> bool:
        return self.exec("sh", "-c", f"test -e {path} && echo yes").strip() == "yes"

    def logs(self) -> str:
        return subprocess.run(["docker", "logs", self.name], check=False, capture_output=True, text=True).stderr[-3000:]

    def stop(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.name], check=False, capture_output=True)

    def host_path(self, path: str) -> Path:
        """Where a path under the state volume is on the host."""
        return self.state / Path(path).relative_to(STATE)


class Row:
    def __init__(self, attack: str, held: bool, evidence: str) -> None:
        self.attack, self.held, self.evidence = attack, held, " ".join(evidence.split())[:150]


def _git_steps(world: Abuse, case: str) -> None:
    for verb in ("status", "code files", "commit [msg: tidy up]", "undo"):
        world.say(case, f"{case}-{verb.split()[0]}", f"@agent {verb}")


def git_escape(world: Abuse, box: Container, kind: str) -> Row:
    marker = f"{STATE}/pwned-{kind}"
    path, attack = ("build.rs", attacks.git_escape_build_rs) if kind == "build-script" else ("tests/tidy.rs", attacks.git_escape_test)
    world.patch(f"escape-{kind}", path, attack(marker))
    report = next(box.state.glob("workspaces/*/tree/escape-report.txt"), None)
    tried = report.read_text() if report else "no report"
    _git_steps(world, f"escape-{kind}")
    ran = box.host_path(marker).exists()
    held = not ran and "setup=Ok" in tried
    return Row(f"git escape from a {kind} (fsmonitor, hooks, nested .git)", held, (f"RAN as {box.host_path(marker).read_text()}; " if ran else "") + tried)


def read_secrets(world: Abuse, box: Container) -> Row:
    targets = [TOKEN_FILE, "/etc/shadow", f"{PROJECT}/Cargo.toml", f"{PROJECT}/.git/config", STATE, "/etc/devspace/devspace.yaml", "/proc/1/root/run"]
    reply = world.patch("read-secrets", "tests/host_files.rs", attacks.read_host_files(targets))
    leaked = [t for t in targets if f"READ {t}:" in reply or f"LISTED {t}:" in reply]
    denied = [t for t in targets if f"DENIED {t}: No such file or directory" in reply]
    held = not leaked and box.token not in reply + world.all_logs() and len(denied) == len(targets)
    shown = f"readable: {leaked}" if leaked else f"{len(denied)}/{len(targets)}: No such file or directory"
    return Row(ATTACK_NAMES[read_secrets], held, shown)


def write_outside(world: Abuse, box: Container) -> Row:
    cargo_home = box.exec("sh", "-c", "echo $CARGO_HOME").strip() or "/home/devspace/.cargo"
    targets = [f"{PROJECT}/.git/pwned", f"{PROJECT}/src/pwned.rs", f"{STATE}/pwned", f"{cargo_home}/registry/src/planted.rs", "/usr/local/rustup/planted", "/usr/local/cargo/bin/planted"]
    world.patch("write-outside", "build.rs", attacks.write_files(targets))
    landed = [t for t in targets if (t.startswith(STATE) and box.host_path(t).exists()) or (t.startswith(PROJECT) and (box.project / Path(t).relative_to(PROJECT)).exists()) or box.exists(t)]
    refused = sum(f"WRITE {t} Err" in world.all_logs() for t in targets)
    shown = f"{refused}/{len(targets)} refused inside, the rest went to the run's scratch"
    return Row(ATTACK_NAMES[write_outside], not landed, f"landed: {landed}; {shown}" if landed else f"none landed; {shown}")


def unix_socket(world: Abuse, box: Container) -> Row:
    sock, got = f"{STATE}/agent.sock", f"{STATE}/agent-received"
    listener = (
        "import socket,os\n"
        f"s=socket.socket(socket.AF_UNIX);s.bind({sock!r});s.listen(1);s.settimeout(60)\n"
        f"c,_=s.accept();open({got!r},'wb').write(c.recv(100))\n"
    )
    box.exec("python3", "-c", listener, detach=True)
    time.sleep(1)
    reply = world.patch("socket", "tests/knock.rs", attacks.connect_socket(sock))
    reached = box.host_path(got).exists()
    return Row(ATTACK_NAMES[unix_socket], not reached, "reached" if reached else _test_line(reply, "knock"))


def service_port(world: Abuse, box: Container) -> Row:
    reply = world.patch("tcp", "tests/knock_tcp.rs", attacks.connect_tcp(box.port))
    held = "tests/knock_tcp.rs: 1 passed" in reply
    return Row(ATTACK_NAMES[service_port], held, f"127.0.0.1:{box.port}: " + _test_line(reply, "knock_tcp"))


def fifo_rollback(world: Abuse, box: Container) -> Row:
    started = time.monotonic()
    reply = world.patch("fifo", "build.rs", attacks.fifo_swap("build.rs"))
    status = world.executor.run(StatusRequest())
    took = time.monotonic() - started
    swapped = "FIFO removed=Ok" in world.all_logs()
    held = swapped and "The patch was rolled back" in reply and status.pending == [] and not status.patches
    return Row(ATTACK_NAMES[fifo_rollback], held, f"FIFO made: {swapped}; rolled back, status answered {took:.1f}s after the patch; pending {status.pending}")


def environment(world: Abuse, box: Container) -> Row:
    reply = world.patch("environment", "tests/environment.rs", attacks.print_environment())
    text = reply + world.all_logs()
    leaked = [name for name, value in (("LLM key", world.planted.api_key), ("token", box.token)) if value in text]
    return Row(ATTACK_NAMES[environment], not leaked and "ENVIRONMENT" in reply, f"leaked: {leaked}" if leaked else "no key, no token")


def _test_line(reply: str, name: str) -> str:
    return next((line.strip("- ") for line in reply.splitlines() if f"tests/{name}.rs" in line and "passed" in line), reply[:120])


def escape_from_build_script(world: Abuse, box: Container) -> Row:
    return git_escape(world, box, "build-script")


def escape_from_test(world: Abuse, box: Container) -> Row:
    return git_escape(world, box, "test")


ATTACK_NAMES: dict[Callable[[Abuse, Container], Row], str] = {
    escape_from_build_script: "git escape from a build-script (fsmonitor, hooks, nested .git)",
    escape_from_test: "git escape from a test (fsmonitor, hooks, nested .git)",
    read_secrets: "read the token, /etc/shadow, the checkout, the state, the config",
    write_outside: "write the developer's .git and checkout, the state, cargo's registry, the toolchain",
    unix_socket: "connect to a unix socket of the container's service side",
    service_port: "connect to the service's own port",
    fifo_rollback: "swap a patched file for a FIFO, fail the build (rollback reads it)",
    environment: "print the environment and every /proc/*/environ",
}
ATTACKS = list(ATTACK_NAMES)


def run_one(attack: Callable[[Abuse, Container], Row], image: str, root: Path, keep: bool) -> tuple[Row, str]:
    """One attack against a fresh container (so one that wrecks the workspace cannot hide the next)."""
    box = Container(image, root, planted_key="xai-" + uuid.uuid4().hex * 2)
    try:
        box.start()
        world = Abuse(root / "bridge", Remote(url=box.url, token=box.token, project=box.project, state=box.state))
        world.executor = world.orchestrator.executor = HttpExecutor(box.url, token=box.token, timeout=REQUEST_TIMEOUT)
        uid = box.exec("id", "-u").strip()
        try:
            row = attack(world, box)
        except (SandboxError, OSError) as exc:  # the attack left the service unable to answer: containment did not hold
            row = Row(ATTACK_NAMES.get(attack, "?"), False, f"the service failed afterwards: {type(exc).__name__}: {exc}")
        return row, f"uid {uid}, isolation {_isolation(world)}"
    finally:
        if not keep:
            box.stop()
            shutil.rmtree(root, ignore_errors=True)


def _isolation(world: Abuse) -> str:
    try:
        return world.executor.run(StatusRequest()).isolation
    except SandboxError as exc:
        return f"unknown ({type(exc).__name__})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default="colloqium/devspace-sandbox:dev")
    parser.add_argument("--keep", action="store_true", help="leave the containers and their folders for a look")
    args = parser.parse_args()
    setup_logging("ERROR")
    rows: list[Row] = []
    started = time.monotonic()
    for n, attack in enumerate(ATTACKS):
        row, how = run_one(attack, args.image, WORLDS / f"{uuid.uuid4().hex[:12]}-{n}", args.keep)
        if n == 0:
            print(f"sandbox image {args.image}: service {how}; one fresh container per attack")
        rows.append(row)
    width = max(len(r.attack) for r in rows)
    print(f"\n{'attack':<{width}}  result  evidence")
    for row in rows:
        print(f"{row.attack:<{width}}  {'held  ' if row.held else 'BROKEN'}  {row.evidence}")
    held = sum(r.held for r in rows)
    print(f"\ncontainment held: {held}/{len(rows)} ({time.monotonic() - started:.0f}s)")
    return 0 if held == len(rows) else 1


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
