"""Cost of noticing one new message: `read_new` in a chat of 20 vs 2,000 messages, side by side.

Per fixture and read route: the classic mock page (mock profile), and the grok-2026 fixture of
today's grok.com (grok profile as shipped) read through its history API or from the page alone.
Both chats are open in the same headless Chromium, attached as the bridge would be after a restart
(last seen id = the newest turn). Each round a developer turn is injected server-side into both
chats (live push puts it in the page), and the driver reads it:

- "nothing new": a read_new when no turn arrived (the steady poll);
- "one new, page settled": the read_new that returns the new turn, once the page has drawn it;
- "one new, first read": the read_new issued as soon as the DOM change is reported; it also waits
  for the page's own layout of the new turn, which grows with the page, not with the reader.

    .venv/bin/python benchmarks/browser_read.py [--rounds 30] [--fixture classic|grok-2026-api|grok-2026-dom]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import async_playwright  # noqa: E402

from bridge.chat.launch import launch  # noqa: E402
from bridge.chat.playwright_driver import DriverOptions, PlaywrightDriver  # noqa: E402
from bridge.chat.profile import Profile, load_profile  # noqa: E402
from bridge.mockchat.app import MockOptions, create_app  # noqa: E402
from bridge.mockchat.client import MockChatClient  # noqa: E402
from sandbox.logs import setup_logging  # noqa: E402
from sandbox.serving import BackgroundServer  # noqa: E402

SIZES = (20, 2000)
FIXTURES = ("classic", "grok-2026-api", "grok-2026-dom")
SHOWN = """(text) => [...document.querySelectorAll('[id^="response-"]')]
  .some((el) => el.checkVisibility({ visibilityProperty: true }) && el.textContent.includes(text))"""
SETTLE = "() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)))"
TURN = "@agent code test #aggr_trades\n\nRun {i}: the `adjust_to_monday` case."
REPLY = "Result {i}:\n\n```rust\nfn adjust_to_monday(day: u32) -> u32 {{\n\tday - {i}\n}}\n```\n\nAll good."


def fill(app: object, chat_id: str, count: int) -> None:
    """`count` turns, alternating developer and assistant, put straight into the server's store."""
    conv = app.state.room.conversation(chat_id)  # type: ignore[attr-defined]
    for i in range(count):
        conv.add("user" if i % 2 == 0 else "assistant", (TURN if i % 2 == 0 else REPLY).format(i=i))


def setup_for(fixture: str, client: MockChatClient) -> tuple[Profile, dict[int, str]]:
    """The profile and the page URL of each chat size for a fixture."""
    if fixture == "classic":
        return load_profile("mock"), {n: client.chat_url(f"chat-{n}", live=1) for n in SIZES}
    grok = load_profile("grok")
    profile = grok if fixture == "grok-2026-api" else grok.model_copy(update={"api": None})
    return profile, {n: client.grok_url(f"chat-{n}", live=1) for n in SIZES}


async def measure(client: MockChatClient, state: Path, rounds: int, fixture: str) -> dict[int, dict[str, list[float]]]:
    profile, urls = setup_for(fixture, client)
    timings: dict[int, dict[str, list[float]]] = {n: {"idle": [], "settled": [], "first": []} for n in SIZES}
    async with async_playwright() as pw:
        browser = await launch(pw)
        drivers: dict[int, PlaywrightDriver] = {}
        for n in SIZES:
            driver = PlaywrightDriver(profile, DriverOptions(url=urls[n], storage_state=state), browser=browser)
            await driver.start()
            driver.last_seen_id = client.messages(f"chat-{n}")[-1].id
            drivers[n] = driver
        for _ in range(3):  # warm-up
            for n in SIZES:
                await drivers[n].read_new()
        for i in range(rounds):
            for n in SIZES:
                driver = drivers[n]
                start = time.perf_counter()
                assert await driver.read_new() == []
                timings[n]["idle"].append(time.perf_counter() - start)
                for kind in ("first", "settled"):
                    text = f"@agent status {i} {kind}"
                    await asyncio.to_thread(client.inject, f"chat-{n}", text, reply=False)
                    got: list = []
                    while not got:
                        if kind == "settled":
                            await driver.page.wait_for_function(SHOWN, arg=text)
                            await driver.page.evaluate(SETTLE)
                        start = time.perf_counter()
                        got = await driver.read_new()
                        elapsed = time.perf_counter() - start
                        if not got:
                            await driver.wait_for_activity(1.0)
                    assert [m.text for m in got] == [text]
                    timings[n][kind].append(elapsed)
        for driver in drivers.values():
            await driver.close()
        await browser.close()
    return timings


def report(fixture: str, rounds: int, timings: dict[int, dict[str, list[float]]]) -> None:
    small, large = SIZES
    print(f"{fixture}: read_new cost by chat length ({rounds} rounds, median ms)")
    print(f"{'':<28}{small:>10}{large:>10}{'ratio':>10}")
    for kind, label in (("idle", "nothing new"), ("settled", "one new, page settled"), ("first", "one new, first read")):
        a, b = statistics.median(timings[small][kind]) * 1000, statistics.median(timings[large][kind]) * 1000
        print(f"{label:<28}{a:>10.2f}{b:>10.2f}{b / a:>10.2f}")
    ratio = statistics.median(timings[large]["settled"]) / statistics.median(timings[small]["settled"])
    print(f"goal: ratio <= 2 for the read that notices one new message -> {'met' if ratio <= 2 else 'NOT met'} ({ratio:.2f})\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--fixture", choices=FIXTURES, action="append", help="default: all")
    args = parser.parse_args()
    setup_logging("WARNING")
    app = create_app(options=MockOptions(ui="grok-2026"))
    for n in SIZES:
        fill(app, f"chat-{n}", n)
    with BackgroundServer(app, timeout_graceful_shutdown=1) as server, tempfile.TemporaryDirectory() as tmp:
        client = MockChatClient(server.url)
        state = client.write_storage_state(Path(tmp) / "state.json")
        for fixture in args.fixture or FIXTURES:
            report(fixture, args.rounds, asyncio.run(measure(client, state, args.rounds, fixture)))


if __name__ == "__main__":
    main()
