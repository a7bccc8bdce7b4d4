"""Bubblewrap isolation: what a process inside can and cannot reach (real bwrap, real processes)."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox import proc
from sandbox.isolation import Mount, sandbox_etc, bwrap_argv, bwrap_path, isolation_available

needs_bwrap = pytest.mark.skipif(not isolation_available(), reason="bubblewrap is missing or cannot create namespaces here")
ENV = proc.clean_env(("PATH", "HOME", "LANG"))
# The real interpreter, not the virtualenv's link (a checkout under /tmp is hidden by the sandbox's private /tmp);
# its installation is bound read-only, as a toolchain is.
PYTHON = os.path.realpath(sys.executable)
INTERPRETER = Mount.ro(Path(sys.base_prefix).resolve())


def _run(code: str, *, tmp: Path, isolated: bool, timeout: float = 30) -> proc.ProcResult:
    """Run Python `code` in `tmp`, inside bwrap (only `tmp` writable) or plainly."""
    argv = [PYTHON, "-c", code]
    if isolated:
        argv = bwrap_argv(argv, [INTERPRETER, Mount.rw(tmp)], cwd=tmp)
    return proc.run(argv, cwd=tmp, env=ENV, timeout=timeout, output_cap=1_000_000)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on the host's loopback."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(5)
        yield server


def _connect_code(port: int) -> str:
    return f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('CONNECTED')"


@needs_bwrap
def test_network_is_cut_inside(listener: socket.socket, tmp_path: Path) -> None:
    port = listener.getsockname()[1]
    inside = _run(_connect_code(port), tmp=tmp_path, isolated=True)
    assert inside.returncode != 0
    assert "CONNECTED" not in inside.stdout
    assert "ConnectionRefusedError" in inside.stderr  # the sandbox's own loopback has no listener


def test_network_reachable_without_isolation(listener: socket.socket, tmp_path: Path) -> None:
    """The control for the test above: the same probe does connect when run plainly."""
    port = listener.getsockname()[1]
    outside = _run(_connect_code(port), tmp=tmp_path, isolated=False)
    assert outside.returncode == 0, outside.stderr
    assert "CONNECTED" in outside.stdout
    conn, _ = listener.accept()
    conn.close()


@needs_bwrap
def test_only_bound_paths_are_writable(tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    code = (
        "import pathlib, sys\n"
        f"pathlib.Path({str(work / 'ok.txt')!r}).write_text('in')\n"
        "for target in sys.argv[1:]:\n"
        "    try:\n"
        "        pathlib.Path(target).write_text('out')\n"
        "        print('WROTE', target)\n"
        "    except OSError as exc:\n"
        "        print('REFUSED', target, exc.strerror)\n"
    )
    probe_home = Path.home() / f".devspace-probe-{uuid.uuid4().hex}"  # on the read-only root, outside /tmp
    argv = bwrap_argv([PYTHON, "-c", code, str(elsewhere / "x.txt"), str(probe_home)], [INTERPRETER, Mount.rw(work)], cwd=work)
    try:
        result = proc.run(argv, cwd=work, env=ENV, timeout=30, output_cap=100_000)
        assert result.returncode == 0, result.stderr
        assert (work / "ok.txt").read_text() == "in"
        assert "WROTE" not in result.stdout
        assert result.stdout.count("REFUSED") == 2
        assert "Read-only file system" in result.stdout
        assert not (elsewhere / "x.txt").exists() and not probe_home.exists()
    finally:
        probe_home.unlink(missing_ok=True)


@needs_bwrap
def test_tmp_is_private(tmp_path: Path) -> None:
    name = f"/tmp/devspace-private-{uuid.uuid4().hex}"
    result = _run(f"open({name!r}, 'w').write('x'); print(open({name!r}).read())", tmp=tmp_path, isolated=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "x"
    assert not Path(name).exists()


@needs_bwrap
def test_timeout_kills_even_processes_that_left_the_group(
    tmp_path: Path, sleep_marker: str, reap_marked: Callable[[str], list[int]]
) -> None:
    """A child that calls setsid escapes a process-group kill; the PID namespace still ends it."""
    code = f"import os, subprocess, time; subprocess.Popen(['setsid', 'sleep', '{sleep_marker}']); time.sleep(600)"
    result = _run(code, tmp=tmp_path, isolated=True, timeout=3)
    assert result.timed_out
    assert reap_marked(sleep_marker) == []


def test_probe_reports_missing_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert bwrap_path() is None
    assert isolation_available.__wrapped__() is False


def test_bwrap_argv_binds_after_private_tmp(tmp_path: Path) -> None:
    """Binds come after the mounts above them (a workspace under /tmp would vanish under the tmpfs), and nothing of
    the host is bound but the system folders and what the caller names."""
    argv = bwrap_argv(["cargo", "build"], [Mount.rw(tmp_path)], cwd=tmp_path)
    assert argv.index("--tmpfs") < argv.index("--bind")
    sources = {argv[i + 1] for i, arg in enumerate(argv) if arg in ("--bind", "--ro-bind")}
    host = {s for s in sources if Path(s).parent != sandbox_etc()}  # the sandbox's own hosts, passwd, …
    assert "/" not in host and host <= {"/usr", "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", str(tmp_path)}
    assert "--unshare-net" in argv and "--remount-ro" in argv
    assert argv[-3:] == ["--", "cargo", "build"]


@needs_bwrap
def test_no_user_namespace_can_be_made_inside(tmp_path: Path) -> None:
    """A user namespace of its own would give a build capabilities over its mounts again: bwrap forbids it."""
    if shutil.which("unshare") is None:
        pytest.skip("util-linux's unshare is not installed")
    code = "import subprocess; print('EXIT', subprocess.run(['unshare', '--user', 'true']).returncode)"
    inside = _run(code, tmp=tmp_path, isolated=True)
    assert inside.returncode == 0, inside.stderr
    assert "EXIT 0" not in inside.stdout and "EXIT" in inside.stdout


@needs_bwrap
def test_localhost_resolves_inside(tmp_path: Path) -> None:
    """Tests that serve on `localhost` still work: the sandbox has its own /etc/hosts (none of the host's names)."""
    code = "import socket; s = socket.create_server(('localhost', 0)); print('BOUND', s.getsockname()[0]); print(open('/etc/hosts').read())"
    inside = _run(code, tmp=tmp_path, isolated=True)
    assert inside.returncode == 0, inside.stderr
    assert "BOUND 127.0.0.1" in inside.stdout
    hosts = [line for line in inside.stdout.split("\n", 1)[1].splitlines() if line.strip()]
    assert hosts and all("localhost" in line for line in hosts)
