"""The two halves meet only through the sandbox's public interface, and the sandbox stands alone."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import sandbox

ROOT = Path(__file__).resolve().parents[1]
BRIDGE_ONLY = ("bridge", "openai", "playwright")


def imports(package: str) -> list[tuple[Path, str]]:
    """(file, module) for every import in a package's source files."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append((path, node.module))
    return found


def test_the_sandbox_never_imports_the_bridge() -> None:
    assert [(str(p.relative_to(ROOT)), m) for p, m in imports("sandbox") if m.split(".")[0] in BRIDGE_ONLY] == []


def test_the_bridge_uses_only_the_sandboxs_public_interface() -> None:
    used = {(str(p.relative_to(ROOT)), m) for p, m in imports("bridge") if m.split(".")[0] == "sandbox"}
    assert used, "the bridge runs on the sandbox"
    assert sorted((p, m) for p, m in used if m == "sandbox" or m.split(".")[1] not in sandbox.PUBLIC) == []


def test_the_sandbox_loads_in_a_fresh_interpreter_without_the_bridge() -> None:
    modules = ["sandbox", "sandbox.cli", "sandbox.settings", "sandbox.service", "sandbox.mcp_server", "sandbox.local",
               "sandbox.client", "sandbox.fake"]
    script = f"import importlib, sys\nfor name in {modules!r}:\n    importlib.import_module(name)\n" \
             f"print(sorted({{m for m in sys.modules if m.split('.')[0] in {BRIDGE_ONLY!r}}}))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("command", [["sandbox", "serve"], ["mcp"]])
def test_the_sandbox_commands_of_devspace_load_no_chat_side(command: list[str], tmp_path: Path) -> None:
    """`devspace sandbox serve` and `devspace mcp` import neither openai, nor the orchestrator, nor playwright.

    Run up to the point where the workspace is opened (a directory that is not a git repository stops it there).
    """
    env = {"DEVSPACE_HOME": str(tmp_path / "home"), "DEVSPACE_SANDBOX_TOKEN": "t" * 32, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bridge.cli", *command, "--project", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1 and "not a git repository" in done.stderr, done.stderr[-2000:]
    loaded = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "sandbox.local" in loaded  # the import log covers the command's own work
    chat_side = sorted(m for m in loaded if m.split(".")[0] in ("openai", "playwright") or m in ("bridge.orchestrator", "bridge.llm"))
    assert chat_side == []


def _name(distribution: str) -> str:
    return distribution.lower().replace("_", "-").replace(".", "-")


def _closure(requirements: list[str]) -> set[str]:
    """The distributions `requirements` install, with everything they require (with the extras they ask for)."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [Requirement(line) for line in requirements]
    while todo:
        wanted = todo.pop()
        name = _name(wanted.name)
        key = f"{name}[{','.join(sorted(wanted.extras))}]"
        if key in seen:
            continue
        seen |= {key, name}
        try:
            needed = requires(name) or []
        except PackageNotFoundError:
            continue
        for line in needed:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in {"", *wanted.extras}):
                todo.append(req)
    return {key for key in seen if "[" not in key}


BLOCKER = """
import importlib, importlib.abc, json, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} (not installed in the sandbox's image)", name=name)
        return None

sys.meta_path.insert(0, NotInstalled(json.loads(sys.argv[1])))
for name in ["sandbox.cli", "sandbox.settings", "sandbox.service", "sandbox.mcp_server", "sandbox.local", "sandbox.client"]:
    importlib.import_module(name)
print("ok")
"""


def test_the_sandbox_runs_with_its_own_requirements_only() -> None:
    """The sandbox's image installs sandbox/requirements.txt only: the sandbox's modules load with every other
    distribution hidden, and neither the browser nor the LLM client is among its requirements."""
    from importlib.metadata import packages_distributions

    lines = (ROOT / "sandbox" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    closure = _closure([line for line in lines if line.strip() and not line.startswith("#")])
    assert not closure & {"playwright", "openai", "tenacity"}
    installed = closure | {"colloqium-devspace"}  # the project itself, installed with --no-deps
    hidden = sorted(m for m, dists in packages_distributions().items() if not {_name(d) for d in dists} & installed)
    assert "openai" in hidden and "playwright" in hidden
    done = subprocess.run([sys.executable, "-c", BLOCKER, json.dumps(hidden)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
    whole = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"sandbox/requirements.txt", "bridge/requirements.txt"' in whole  # a plain install still gets everything
