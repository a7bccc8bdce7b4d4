"""Reaction latency of the whole bridge: a developer's `@agent help` shown in the chat, to MCP's
reply shown in the chat. The bridge is attached to a live page (as in the person's own tab over
CDP), so it reacts to DOM changes; the chat's assistant answers every turn (quickly here), and MCP
posts only once the assistant is idle.

    .venv/bin/python benchmarks/bridge_latency.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.config import load_settings  # noqa: E402
from bridge.example import copy_example  # noqa: E402
from bridge.mockchat.app import MockOptions, create_app  # noqa: E402
from bridge.mockchat.assistant import Rule, Script, ScriptedAssistant  # noqa: E402
from bridge.mockchat.client import MockChatClient  # noqa: E402
from bridge.protocol import SIGNATURE  # noqa: E402
from bridge.session import Attachment, make_bridge  # noqa: E402
from bridge.wiring import make_orchestrator  # noqa: E402
from sandbox.logs import setup_logging  # noqa: E402
from sandbox.serving import BackgroundServer  # noqa: E402


def mcp_posts(client: MockChatClient, chat: str) -> int:
    return sum(1 for m in client.messages(chat) if m.role == "user" and m.markdown.rstrip().endswith(SIGNATURE))


async def measure(rounds: int) -> list[float]:
    root = Path(tempfile.mkdtemp(prefix="devspace-latency-"))
    settings = load_settings(home=root / "home", project=copy_example(root / "trade_report"), llm={"api_key": None})
    settings.chat.profile = "mock"
    script = Script(delay_ms=1, default=Rule(reply="Noted."))
    server = BackgroundServer(create_app(ScriptedAssistant(script), MockOptions(live=True)), timeout_graceful_shutdown=1).start()
    client = MockChatClient(server.url)
    settings.chat.storage_state = client.write_storage_state(root / "state.json")
    chat = "latency"
    bridge = make_bridge(settings, make_orchestrator(settings), Attachment(url=client.chat_url(chat), second_session=False))
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    await asyncio.sleep(2.0)
    latencies: list[float] = []
    try:
        for n in range(rounds):
            before = await asyncio.to_thread(mcp_posts, client, chat)
            start = time.perf_counter()
            await asyncio.to_thread(client.inject, chat, "@agent help")
            while await asyncio.to_thread(mcp_posts, client, chat) <= before:
                await asyncio.sleep(0.01)
                if time.perf_counter() - start > 30:
                    raise TimeoutError(f"round {n}: no reply in 30 s")
            latencies.append(time.perf_counter() - start)
            await asyncio.to_thread(client.wait_settled, chat, 0)
            await asyncio.sleep(0.5)  # let the assistant answer MCP's post before the next round
    finally:
        stop.set()
        await task
        await bridge.driver.close()
        client.close()
        server.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    setup_logging("WARNING")
    latencies = sorted(asyncio.run(measure(args.rounds)))
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    print(f"@agent help, message shown -> MCP reply shown, {len(latencies)} rounds (live page, mock profile)")
    print(f"p50 {p50:.3f} s   p95 {p95:.3f} s   min {latencies[0]:.3f} s   max {latencies[-1]:.3f} s   (goal p50 <= 0.5 s)")


if __name__ == "__main__":
    main()
