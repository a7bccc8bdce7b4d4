"""A service of docker-compose.yml as `docker run` arguments, for the scripts and tests that run the images on a real
engine without Compose's networks.

Everything the file sets for the service is kept (read-only root, capabilities, security options and the seccomp
profile's text, init, restart policy, tmpfs mounts, shared memory, limits, user, environment, command, health check) except its
networks: the container gets the host's network and its service listens on a loopback port. The caller names what
backs each volume (a host folder or a named volume), each secret and each config.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
LOOPBACK = "127.0.0.1"


def service(name: str) -> dict[str, Any]:
    """The compose file's settings of service `name`."""
    return dict(yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"][name])


def engine_reachable() -> bool:
    """Whether `docker info` reaches an engine (DOCKER_HOST or the default socket)."""
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def run_args(
    name: str,
    *,
    volumes: dict[str, str],
    secrets: dict[str, Path] | None = None,
    configs: dict[str, Path] | None = None,
    environment: dict[str, str] | None = None,
    user: str | None = None,
    once: bool = False,
) -> list[str]:
    """`docker run` options for service `name`, host network instead of the file's networks.

    `volumes` maps each of the service's mount targets to its source (a host path or a volume's name; every target
    the file mounts must be given); `secrets` and `configs` map the file's names to host files, mounted read-only
    where Compose puts them; `environment` adds to the file's; `user` stands for the file's (it interpolates
    DEVSPACE_UID); `once` leaves out the restart policy, for a one-off `docker run --rm`. Raises KeyError for a volume, secret or config the caller left out.
    """
    spec = service(name)
    args = ["--network", "host"]
    args += ["--read-only"] if spec.get("read_only") else []
    args += ["--init"] if spec.get("init") else []
    args += ["--restart", spec["restart"]] if "restart" in spec and not once else []
    args += [f"--cap-drop={cap}" for cap in spec.get("cap_drop", [])]
    for option in spec.get("security_opt", []):
        key, _, value = option.partition("=")
        if key == "seccomp" and value != "unconfined":
            option = f"seccomp={(ROOT / value).resolve()}"  # as Compose does: the profile's text, read from the file
        args += ["--security-opt", option]
    args += [arg for mount in spec.get("tmpfs", []) for arg in ("--tmpfs", mount)]
    args += ["--shm-size", str(spec["shm_size"])] if "shm_size" in spec else []
    limits = spec.get("deploy", {}).get("resources", {}).get("limits", {})
    args += ["--memory", limits["memory"]] if "memory" in limits else []
    args += ["--cpus", str(limits["cpus"])] if "cpus" in limits else []
    args += ["--pids-limit", str(limits["pids"])] if "pids" in limits else []
    if "user" in spec:
        args += ["--user", user or spec["user"]]
    env = {**spec.get("environment", {}), **(environment or {})}
    args += [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    for mount in spec.get("volumes", []):
        target = next(part for part in reversed(mount.split(":")) if part.startswith("/"))  # short syntax, ":ro" or not
        args += ["-v", f"{volumes[target]}:{target}"]
    for secret in spec.get("secrets", []):
        args += ["-v", f"{(secrets or {})[secret]}:/run/secrets/{secret}:ro"]
    for config in spec.get("configs", []):
        args += ["-v", f"{(configs or {})[config['source']]}:{config['target']}:ro"]
    return args


def command(name: str, port: int) -> list[str]:
    """The service's command, listening on `port` of the loopback interface instead of the file's address."""
    argv = list(service(name)["command"])
    if "--host" in argv:
        argv[argv.index("--host") + 1] = LOOPBACK
    if "--port" in argv:
        argv[argv.index("--port") + 1] = str(port)
    return argv


def healthcheck(name: str, urls: dict[str, str]) -> list[str]:
    """The service's health check command (for `docker exec`), with the file's addresses replaced as `urls` says."""
    test = list(service(name)["healthcheck"]["test"])
    assert test[0] == "CMD", "an exec-form health check"
    argv = test[1:]
    for old, new in urls.items():
        argv = [arg.replace(old, new) for arg in argv]
    return argv
