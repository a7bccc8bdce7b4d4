"""A regular (non-editable) install: the wheel carries the chat UI profiles and the page scripts.

The wheel is built offline (no build isolation) from a copy of the sources and installed without its
dependencies into a fresh virtualenv; the dependencies come from this environment through a `.pth`
line (a venv made from inside a venv would see the system's packages, not these), which adds them to
the path without running this environment's own editable-install hook.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "selectors.yaml", "bridge", "sandbox")
PROBE = """
import json, bridge.chat.profile as p
print(json.dumps({"module": p.__file__, "file": str(p.default_path()), "profiles": sorted(p.load_profiles())}))
"""


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def build_wheel(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(origin, src / name)
    out = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", out, ".", cwd=src)
    (wheel,) = out.glob("*.whl")
    return wheel


def test_a_wheel_installed_into_a_fresh_venv_has_the_profiles(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert archive.read("bridge/chat/selectors.yaml") == (ROOT / "selectors.yaml").read_bytes()
    assert {"bridge/chat/reader.js", "bridge/chat/observer.js", "bridge/mockchat/static/chat.js"} <= names

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel, cwd=tmp_path)
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).stdout.strip())
    (purelib / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")

    probe = json.loads(run(python, "-I", "-c", PROBE, cwd=tmp_path).stdout)

    assert Path(probe["module"]).is_relative_to(venv), "the installed package, not the source tree, was imported"
    assert probe["file"] == str(Path(probe["module"]).with_name("selectors.yaml"))
    assert probe["profiles"] == ["chatgpt", "grok", "mock"]
