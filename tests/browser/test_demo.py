"""The README's main command plays the seed's workflow end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def test_demo_plays_the_seed_workflow(tmp_path: Path) -> None:
    env = {**os.environ, "DEVSPACE_HOME": str(tmp_path / "home"), "XAI_API_KEY": "", "OPENAI_API_KEY": ""}
    run = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "demo", "--port", "0", "--exit"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    order = [
        "[vibe: оптимизировать adjust_to_monday]",  # the developer's request
        "Here is a constant-time version",  # the assistant's patch
        "@all Updated src/date.rs",  # MCP applied it and checked degradation
        "check degradation vs",
        "check test #aggr_trades: OK",  # the tests
        "Committed ",  # MCP's commit post
        "by Grok <grok@x.ai>",  # the commit in the workspace, attributed to the assistant
    ]
    positions = [out.find(marker) for marker in order]
    assert all(p >= 0 for p in positions), dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)
    assert "by Grok <grok@x.ai>: From Grok: Оптимизирована функция (chat_id=demo)" in out
    assert "/chat/demo" in out
