"""The images, built from the project's Dockerfiles and run with the compose file's settings on a real engine
(host network instead of the file's networks). The whole deployment end to end is scripts/container-check."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import compose

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]
IMAGES = {"sandbox": "colloqium/devspace-sandbox:test", "bridge": "colloqium/devspace-bridge:test"}
STATE = "/var/lib/devspace"


def docker(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *argv], input=stdin, capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    """Both images, built as the Dockerfiles say (the engine's cache makes a rebuild quick)."""
    for name, tag in IMAGES.items():
        built = docker("build", "--network=host", "-q", "-f", f"{name}/Dockerfile", "-t", tag, str(ROOT))
        assert built.returncode == 0, built.stderr[-2000:]
    return IMAGES


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The compose file's secret and config, as host files the services' users can read."""
    token, config = tmp_path / "sandbox_token", tmp_path / "devspace.yaml"
    token.write_text(uuid.uuid4().hex + "\n")
    config.write_text("chat:\n  profile: mock\n")
    for path in (token, config):
        path.chmod(0o644)
    return {"sandbox_token": token, "devspace": config}


@pytest.fixture
def volume() -> Iterator[str]:
    """A fresh named volume, as Compose makes one on the first `up`."""
    name = f"devspace-test-{uuid.uuid4().hex[:8]}"
    yield name
    docker("volume", "rm", "-f", name)


def run(image: str, args: list[str], entrypoint: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return docker("run", "--rm", "-i", *args, "--entrypoint", entrypoint[0], image, *entrypoint[1:], stdin=stdin)


def bridge_args(volume: str, files: dict[str, Path]) -> list[str]:
    return compose.run_args("bridge", volumes={STATE: volume}, secrets={"sandbox_token": files["sandbox_token"]}, configs=files, once=True)


def test_the_bridge_image_starts_its_browser(images: dict[str, str], volume: str, files: dict[str, Path]) -> None:
    """Playwright's driver (a bundled node) and Debian's Chromium start under the bridge's compose settings."""
    script = (
        "import os\nfrom playwright.sync_api import sync_playwright\n"
        "with sync_playwright() as p:\n"
        "    browser = p.chromium.launch(executable_path=os.environ['DEVSPACE_CHROMIUM'], args=['--no-sandbox'])\n"
        "    print('chromium', browser.version)\n"
    )
    started = run(images["bridge"], bridge_args(volume, files), ["python", "-c", script])
    assert started.returncode == 0 and started.stdout.startswith("chromium "), started.stderr[-1500:]


def test_the_login_hand_over_lands_in_a_fresh_volume(images: dict[str, str], volume: str, files: dict[str, Path]) -> None:
    """`devspace login --import -` into a `bridge-home` volume without `sessions/`: the bridge's user owns the file."""
    session = {"cookies": [{"name": "session", "value": "v" * 32, "domain": "127.0.0.1", "path": "/"}], "origins": []}
    args = bridge_args(volume, files)
    handed = run(images["bridge"], args, ["devspace", "login", "--profile", "mock", "--import", "-"], stdin=json.dumps(session))
    assert handed.returncode == 0, handed.stderr[-1500:]
    saved = run(images["bridge"], args, ["stat", "-c", "%U %a", f"{STATE}/sessions/mock.json"])
    assert saved.stdout.split() == ["devspace", "600"], saved.stderr


def test_the_sandbox_makes_its_cargo_home_as_the_developers_uid(images: dict[str, str], tmp_path: Path, files: dict[str, Path]) -> None:
    """The cargo home goes into the tmpfs home whatever mode the engine's runc gives that tmpfs."""
    volumes = {"/app/trade_report": str(tmp_path), "/app/sandwiches": str(tmp_path), STATE: str(tmp_path)}
    args = compose.run_args("sandbox", volumes=volumes, secrets=files, configs=files, user="1234:1234", once=True)
    made = run(images["sandbox"], args, ["sh", "-c", 'mkdir -p "$CARGO_HOME" && cargo --version'])
    assert made.returncode == 0 and made.stdout.startswith("cargo "), made.stderr
