"""The Docker files, checked statically (no Docker engine runs here): the compose file against the Compose
Specification's JSON schema, the hardening keys, and the Dockerfiles' key lines."""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml

from sandbox.cli import DEFAULT_PORT, sandbox_app

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "data" / "compose-spec.json").read_text(encoding="utf-8"))
SECRET_NAME = re.compile(r"TOKEN|KEY|PASSWORD|SECRET|COOKIE", re.I)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert schema_errors(compose) == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: c["services"]["sandbox"].update(cap_dropp=["ALL"]),
        lambda c: c["services"]["sandbox"].update(read_only="maybe", security_opt="no-new-privileges"),
        lambda c: c["networks"]["sandbox-net"].update(internal=[]),
        lambda c: c["services"]["bridge"]["depends_on"]["sandbox"].update(condition="when_ready"),
    ],
    ids=["unknown-key", "wrong-types", "internal-type", "condition"],
)
def test_the_schema_check_catches_mistakes(compose: dict[str, Any], damage: Any) -> None:
    broken = copy.deepcopy(compose)
    damage(broken)
    assert schema_errors(broken)


@pytest.mark.parametrize("name", ["sandbox", "bridge"])
def test_both_services_are_hardened(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"] and "cap_add" not in service
    assert "no-new-privileges:true" in service["security_opt"]
    assert "privileged" not in service and "ports" not in service
    limits = service["deploy"]["resources"]["limits"]
    assert {"cpus", "memory", "pids"} <= set(limits)
    assert any(mount.startswith("/tmp:") for mount in service["tmpfs"])
    assert service["healthcheck"]["test"][0] == "CMD" and "/healthz" in " ".join(service["healthcheck"]["test"])
    assert service.get("user", "10001") not in ("0", "root")
    for variable, value in service.get("environment", {}).items():
        secret = SECRET_NAME.search(variable) and not variable.endswith("_FILE")
        assert not secret, f"{name}: {variable}={value} puts a secret into the compose file"
    assert service["secrets"] == ["sandbox_token"]
    target = next(c["target"] for c in service["configs"] if c["source"] == "devspace")
    assert service["environment"]["DEVSPACE_CONFIG"] == target


def test_the_sandbox_has_no_way_out(compose: dict[str, Any]) -> None:
    sandbox, bridge = compose["services"]["sandbox"], compose["services"]["bridge"]
    assert sandbox["networks"] == ["sandbox-net"]
    assert compose["networks"]["sandbox-net"]["internal"] is True
    assert "sandbox-net" in bridge["networks"] and "egress" in bridge["networks"]
    assert compose["networks"]["egress"].get("internal") is not True
    assert "network_mode" not in sandbox
    assert bridge["depends_on"]["sandbox"]["condition"] == "service_healthy"
    assert bridge["environment"]["DEVSPACE_SANDBOX__URL"] == f"http://sandbox:{DEFAULT_PORT}"


def test_the_sandbox_volumes_and_secrets(compose: dict[str, Any]) -> None:
    sandbox = compose["services"]["sandbox"]
    targets = {volume.rsplit(":", 1)[-1]: volume for volume in sandbox["volumes"]}
    assert {"/app/trade_report", "/app/sandwiches", "/var/lib/devspace"} <= set(targets)
    assert sandbox["environment"]["DEVSPACE_PROJECT"] == "/app/trade_report"
    assert sandbox["environment"]["DEVSPACE_SANDWICHES"] == "/app/sandwiches"
    assert compose["secrets"]["sandbox_token"]["file"].startswith("./.secrets/")
    assert sandbox["environment"]["DEVSPACE_SANDBOX__TOKEN_FILE"] == "/run/secrets/sandbox_token"
    assert compose["configs"]["devspace"]["file"] == "./devspace.yaml"


def test_the_sandbox_container_can_build_a_sandbox_per_cargo_run(compose: dict[str, Any]) -> None:
    """Builds run in bubblewrap inside the container: required, with the options an unprivileged bubblewrap needs, and a
    seccomp profile of ours that still refuses the kernel interfaces a build has no use for."""
    sandbox = compose["services"]["sandbox"]
    assert sandbox["environment"]["DEVSPACE_SANDBOX__LIMITS__ISOLATION"] == "bwrap"
    options = dict(option.partition("=")[::2] for option in sandbox["security_opt"] if "=" in option)
    assert options["systempaths"] == "unconfined" and options["apparmor"] == "unconfined"
    profile = json.loads((REPO / options["seccomp"]).read_text(encoding="utf-8"))
    denied = {name for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ERRNO" for name in rule["names"]}
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW" and {"keyctl", "bpf", "io_uring_setup", "perf_event_open", "userfaultfd"} <= denied
    assert not denied & {"unshare", "clone", "mount", "pivot_root", "umount2"}  # what bubblewrap needs
    assert {a["architecture"] for a in profile["archMap"]} == {"SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"}
    assert "security_opt" not in compose["services"]["bridge"] or "seccomp" not in " ".join(compose["services"]["bridge"]["security_opt"])


def test_the_compose_command_is_one_the_cli_accepts(compose: dict[str, Any]) -> None:
    serve = typer.main.get_command(sandbox_app).commands["serve"]  # type: ignore[attr-defined]
    accepted = {opt for param in serve.params for opt in param.opts}
    given = [arg for arg in compose["services"]["sandbox"]["command"] if arg.startswith("--")]
    assert given and set(given) <= accepted
    assert compose["services"]["sandbox"]["command"][-1] == str(DEFAULT_PORT)


def dockerfile(path: str) -> list[str]:
    """Instructions with continuation lines joined and comments dropped."""
    text = (REPO / path).read_text(encoding="utf-8")
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def instructions(lines: list[str], keyword: str) -> list[str]:
    return [line[len(keyword) + 1 :] for line in lines if line.split(" ", 1)[0] == keyword]


def ignored(path: str) -> bool:
    patterns = [p for p in (REPO / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    return any(fnmatch.fnmatch(path, p.removeprefix("**/")) or fnmatch.fnmatch(path.split("/")[0], p) for p in patterns)


@pytest.mark.parametrize("path", ["sandbox/Dockerfile", "bridge/Dockerfile"])
def test_dockerfiles_run_as_a_user_and_bake_in_no_secret(path: str) -> None:
    lines = dockerfile(path)
    assert lines[0].startswith("FROM ")
    users = instructions(lines, "USER")
    assert users == ["devspace"], "one non-root USER"
    assert lines.index("USER devspace") > max(i for i, line in enumerate(lines) if line.startswith("RUN "))
    for line in instructions(lines, "ENV") + instructions(lines, "ARG"):
        for name in re.findall(r"([A-Z_][A-Z0-9_]*)=", line):
            assert not SECRET_NAME.search(name), f"{path}: {name} would bake a secret into the image"
    for copied in instructions(lines, "COPY"):
        for source in copied.split()[:-1]:
            assert (REPO / source).exists() and not ignored(source), f"{path}: COPY {source} is missing or ignored"


@pytest.mark.parametrize("path", ["sandbox/Dockerfile", "bridge/Dockerfile"])
def test_the_home_is_open_whatever_mode_the_tmpfs_gets(path: str) -> None:
    """runc before 1.1.8 gives a tmpfs the mode of the directory it covers, not the compose file's `mode=1777`."""
    chmods = [line for line in instructions(dockerfile(path), "RUN") if "chmod 1777" in line]
    assert any("/home/devspace" in line.split("chmod 1777", 1)[1] for line in chmods)


def test_sandbox_dockerfile_key_lines() -> None:
    lines = dockerfile("sandbox/Dockerfile")
    text = "\n".join(lines)
    assert lines[0].startswith("FROM rust:")
    assert "python3" in text and "python3-venv" in text and " git " in text and " bubblewrap " in text
    assert "safe.directory" not in text  # the executor's git names its git dir and reads no system configuration
    assert "useradd" in text and "/app/trade_report" in text and "/app/sandwiches" in text
    assert "DEVSPACE_PROJECT=/app/trade_report" in text and "DEVSPACE_SANDWICHES=/app/sandwiches" in text
    assert instructions(lines, "HEALTHCHECK") and "/healthz" in instructions(lines, "HEALTHCHECK")[0]
    assert json.loads(instructions(lines, "ENTRYPOINT")[0]) == ["devspace", "sandbox", "serve"]
    assert str(DEFAULT_PORT) in instructions(lines, "EXPOSE")[0]


def test_bridge_dockerfile_key_lines() -> None:
    lines = dockerfile("bridge/Dockerfile")
    text = "\n".join(lines)
    assert lines[0].startswith("FROM python:3.11")
    assert "chromium" in text and "DEVSPACE_CHROMIUM=/usr/bin/chromium" in text
    assert "--no-sandbox" in text  # the container is Chromium's sandbox (capabilities are all dropped)
    assert " libatomic1" in text  # Playwright's driver is a node binary that needs it (tests/service/test_images.py runs it)
    assert json.loads(instructions(lines, "ENTRYPOINT")[0]) == ["devspace"]


def test_dockerignore_keeps_secrets_and_state_out_of_images() -> None:
    for path in (".secrets/sandbox_token", "devspace.yaml", ".git", ".venv", "examples/trade_report/target", "bridge.env"):
        assert ignored(path), path
    for path in ("pyproject.toml", "README.md", "sandbox", "bridge", "selectors.yaml"):
        assert not ignored(path), path
