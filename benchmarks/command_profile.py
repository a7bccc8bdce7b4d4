"""Where one command's time goes, on a short chat and on a long one: the bridge in-process on the mock chat.

    .venv/bin/python benchmarks/command_profile.py [--ui classic|grok-2026] [--turns 20 700] [--commands 12] [--interval 3]

For each chat length, a conversation is filled server-side with that many turns (commands and MCP-sized
replies), the whole bridge (real executor, journal and orchestrator, the real Playwright driver as a second
session) attaches to it, and `--commands` quick commands (`@agent status`, `@agent help`) are typed one every
`--interval` seconds. Printed per chat length: reply latency p50 (typed -> reply posted), page loads per
command, and the time per command spent in each part (seconds, summed over the calls): page loads, the
reader script's calls by operation, the orchestrator, the journal, waiting for the page to be idle, the
post's confirmation. A part that grows from the short chat to the long one is what makes latency drift.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import shutil
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.chat.base import Attachment  # noqa: E402
from bridge.config import load_settings  # noqa: E402
from bridge.mockchat.app import MockOptions  # noqa: E402
from bridge.session import make_bridge  # noqa: E402
from bridge.wiring import make_orchestrator  # noqa: E402
from sandbox.logs import setup_logging  # noqa: E402
from tests.reliability.conftest import WORLDS  # noqa: E402
from tests.reliability.harness import ChatServer, JournalView, copy_example  # noqa: E402

REPLY = "Workspace of trade_report on branch devspace: clean, 3 commits ahead.\n\n```\n" + "src/report.rs  12 lines\n" * 8 + "```"
COMMANDS = ["@agent status", "@agent help"]


class Timings:
    """Seconds spent per part, summed, and calls counted."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.depth = 0

    def wrap(self, obj: Any, name: str, part: str | Callable[..., str]) -> None:
        original = getattr(obj, name)

        def label(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            return part(*args, **kwargs) if callable(part) else part

        if inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    self.add(label(args, kwargs), time.perf_counter() - began)

            setattr(obj, name, timed_async)
        else:

            @functools.wraps(original)
            def timed(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    self.add(label(args, kwargs), time.perf_counter() - began)

            setattr(obj, name, timed)

    def add(self, part: str, seconds: float) -> None:
        self.spent[part] += seconds
        self.calls[part] += 1


def instrument(bridge: Any, timings: Timings) -> None:
    driver = bridge.driver
    timings.wrap(driver._chat, "reload", "page load (reload)")
    timings.wrap(driver, "_wait_ready", "wait until the loaded page is ready")
    timings.wrap(driver._chat, "call", lambda op, **_: f"reader script: {op}")
    timings.wrap(driver, "read", "driver.read (total, with its reloads)")
    timings.wrap(driver, "post", "driver.post (total, with its reload)")
    timings.wrap(driver, "_wait_idle", "post: wait for an idle page")
    timings.wrap(driver, "_confirm", "post: confirm the new turn")
    timings.wrap(bridge.orchestrator, "handle", "orchestrator.handle")
    timings.wrap(bridge.orchestrator, "tick", "orchestrator.tick")
    journal = bridge.journal
    for name in dir(journal):
        if not name.startswith("_") and callable(getattr(journal, name)) and name != "tx":
            timings.wrap(journal, name, "journal")


def fill(chat: ChatServer, chat_id: str, turns: int) -> None:
    for n in range(turns):
        user = n % 2 == 0
        text = f"@agent status #{n}" if user else REPLY
        chat.client.inject(chat_id, text, role="user" if user else "assistant", reply=False)


async def measure(chat: ChatServer, root: Path, turns: int, args: argparse.Namespace) -> None:
    chat_id = str(uuid.uuid4())
    fill(chat, chat_id, turns)
    home = root / f"home-{turns}"
    profile = "grok" if args.ui == "grok-2026" else "mock"
    url = chat.client.grok_url(chat_id) if args.ui == "grok-2026" else chat.client.chat_url(chat_id)
    chat.client.write_storage_state(home / "sessions" / f"{profile}.json")
    settings = load_settings(
        home=home, project=copy_example(root / f"crate-{turns}"), llm={"api_key": None},
        chat={"profile": profile, "check_environment": False}, rules={"flood_per_minute": 1000},
    )
    bridge = make_bridge(settings, make_orchestrator(settings), Attachment(url=url, second_session=True))
    timings = Timings()
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    view = JournalView(home / "journal.db", bridge.chat_id)
    while not view.attached():
        await asyncio.sleep(0.1)
    instrument(bridge, timings)
    loads_before = len(chat.page_loads)
    typed: dict[str, float] = {}
    for n in range(args.commands):
        await asyncio.sleep(args.interval)
        msg_id = await asyncio.to_thread(chat.client.inject, chat_id, COMMANDS[n % len(COMMANDS)])
        typed[msg_id] = time.time()
    deadline = time.monotonic() + 120
    posted: dict[str, float] = {}
    while len(posted) < len(typed) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        posted = {r["in_reply_to"]: float(r["posted_at"]) for r in view.outbox() if r["in_reply_to"] in typed and r["posted_at"]}
    loads = len(chat.page_loads) - loads_before
    stop.set()
    await task
    await bridge.driver.close()
    latency = [posted[m] - typed[m] for m in typed if m in posted]
    count = len(typed)
    print(f"{turns} turns at the start ({len(chat.client.messages(chat_id))} at the end): {len(latency)}/{count} answered, "
          f"reply latency p50 {statistics.median(latency):.2f} s; {loads / count:.1f} page loads per command")
    for part in sorted(timings.spent, key=lambda p: -timings.spent[p]):
        spent, calls = timings.spent[part], timings.calls[part]
        print(f"    {part:45s} {spent / count * 1000:7.0f} ms per command  ({calls / count:5.1f} calls, "
              f"{spent / calls * 1000:6.1f} ms each)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ui", choices=["classic", "grok-2026"], default="classic")
    parser.add_argument("--turns", type=int, nargs="+", default=[20, 700])
    parser.add_argument("--commands", type=int, default=12)
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--window", type=int, default=None, help="classic page: hold only the last N turns")
    args = parser.parse_args()
    setup_logging("ERROR")
    root = WORLDS / f"profile-{uuid.uuid4().hex[:12]}"
    root.mkdir(parents=True)
    options = MockOptions(ui="grok-2026") if args.ui == "grok-2026" else MockOptions(window=args.window)
    try:
        with ChatServer(options=options) as chat:
            for turns in args.turns:
                await measure(chat, root, turns, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
