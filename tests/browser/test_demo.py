"""The README's main command plays the seed's workflow end to end, then the agent roles' scene."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = {"classic": "/chat/demo", "grok-2026": "/c/demo"}


@pytest.fixture(scope="module", params=list(FIXTURES))
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(fixture, what `devspace demo --exit --fixture F` prints), run once per fixture with no LLM key in the environment."""
    fixture = str(request.param)
    home = tmp_path_factory.mktemp(f"demo-{fixture}") / "home"
    env = {**os.environ, "DEVSPACE_HOME": str(home), "XAI_API_KEY": "", "OPENAI_API_KEY": ""}
    run = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "demo", "--port", "0", "--exit", "--fixture", fixture],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return fixture, run.stdout


def test_demo_plays_the_seed_workflow(demo: tuple[str, str]) -> None:
    fixture, out = demo
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
    assert FIXTURES[fixture] in out and f"{fixture} mock chat at" in out


def test_demo_plays_the_roles_scene(demo: tuple[str, str]) -> None:
    """After the seed's workflow: the critic reviews a file, the tester adds a test that real cargo runs while
    critics are allowed (so the critic reviews the tester's patch), and the commit is authored by the tester;
    the roles answer from the demo's embedded stand-in LLM, with no key in the environment."""
    _, out = demo
    out = out[out.index("Committed. Anything else?"):]  # after the seed's workflow
    order = [
        "@critic (stand-in) on file_id=",  # the review the developer asked for
        "rem_euclid(7)",
        "@all @tester (stand-in) on file_id=",  # the tester's patch, applied and checked
        "fn aggr_trades_week_crosses_a_year()",
        "check degradation vs",
        "@critic (stand-in) on the patch to src/tests/task/aggr_trades.rs",  # critics allowed: the critic's own review
        "by Tester <tester@roles.devspace.local>: From Tester: Тест: неделя на границе года (chat_id=demo)",
    ]
    positions = [out.find(marker) for marker in order]
    assert all(p >= 0 for p in positions), dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)
