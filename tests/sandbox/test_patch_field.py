"""Field cases from public reports of LLM edits gone wrong (tests/data/field): each applies exactly or is refused cleanly.

Where a case allows either outcome (`refuse.txt` beside `expected/`) and one exact reading
exists, the exact tree is required: a refusal there would be lost work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.patch import apply_payload

ROOT = Path(__file__).resolve().parents[2]
FIELD = ROOT / "tests" / "data" / "field"
CASES = sorted(p for p in FIELD.iterdir() if p.is_dir())


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


@pytest.mark.parametrize("case", [c for c in CASES if not (c / "exec.json").exists()], ids=lambda c: c.name)
def test_field_case_applies_exactly_or_is_refused(tmp_path: Path, case: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(case / "before", tree)
    before = snapshot(tree)
    result = apply_payload(tree, (case / "payload.txt").read_text(encoding="utf-8"))
    wanted = [snapshot(p) for p in sorted(case.iterdir()) if p.name.startswith("expected")]
    if wanted:
        assert result.ok, result.error
        assert snapshot(tree) in wanted
    else:
        assert not result.ok and result.error
        assert snapshot(tree) == before


@pytest.mark.parametrize("case", [c for c in CASES if (c / "exec.json").exists()], ids=lambda c: c.name)
def test_field_case_through_the_whole_pipeline(tmp_path: Path, crate_copy: Path, case: Path) -> None:
    spec = json.loads((case / "exec.json").read_text())
    checkout = snapshot(crate_copy)
    run = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "exec", "--project", str(crate_copy), "--actor", spec["actor"], (case / "payload.txt").read_text()],
        cwd=ROOT, env={**os.environ, "DEVSPACE_HOME": str(tmp_path / "home")}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert not any(s in run.stdout for s in spec.get("must_not_contain", [])), run.stdout
    assert all(s in run.stdout for s in spec.get("must_contain", [])), run.stdout
    assert snapshot(crate_copy) == checkout
    for workspace in (tmp_path / "home").glob("workspaces/*/tree"):
        assert {k: v for k, v in snapshot(workspace).items() if not k.startswith("target/")} == checkout
