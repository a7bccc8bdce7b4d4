"""Post a 50 KB message and read it back byte for byte, per composer kind and read route.

The message is prose (Russian included) around a fenced diff whose lines carry tabs and trailing
spaces. "text exact" compares the text read back with what was posted; "code exact" compares the
code block. The copy route reads the raw markdown through the message's Copy button.

    .venv/bin/python benchmarks/browser_post.py [--size 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import async_playwright  # noqa: E402

from bridge.chat.launch import launch  # noqa: E402
from bridge.chat.playwright_driver import DriverOptions, PlaywrightDriver  # noqa: E402
from bridge.chat.profile import Profile, load_profile  # noqa: E402
from bridge.mockchat.app import create_app  # noqa: E402
from bridge.mockchat.client import MockChatClient  # noqa: E402
from bridge.models import ChatMessage  # noqa: E402
from sandbox.logs import setup_logging  # noqa: E402
from sandbox.serving import BackgroundServer  # noqa: E402

CASES = [
    ("contenteditable", "insert_text", "dom"),
    ("contenteditable", "paste", "dom"),
    ("textarea", "insert_text", "dom"),
    ("contenteditable", "insert_text", "copy"),
]


def message(size: int) -> tuple[str, str]:
    lines: list[str] = []
    n = 0
    while sum(len(x) + 1 for x in lines) < size - 120:
        lines += [f"+\tlet value_{n} = adjust_to_monday(day_{n});  ", f" \t\t// строка {n}\t"]
        n += 1
    code = "\n".join(lines)
    return f"@agent code improvement file_id=51 #2025-07-12\n\n```diff\n{code}\n```\n\nОптимизирована функция.", code


def variant(profile: Profile, insert: str, route: str) -> Profile:
    composer = profile.composer.model_copy(update={"insert": insert})
    return profile.model_copy(update={"composer": composer, "code_route": route})


async def read_back(driver: PlaywrightDriver, message_id: str) -> tuple[ChatMessage, float]:
    start = time.perf_counter()
    while True:
        for got in await driver.read_new():
            if got.id == message_id:
                return got, time.perf_counter() - start
        await driver.wait_for_activity(1.0)


async def run(client: MockChatClient, state: Path, size: int) -> list[tuple[str, float, float, bool, bool, bool]]:
    text, code = message(size)
    base = load_profile("mock")
    rows = []
    async with async_playwright() as pw:
        browser = await launch(pw)
        for index, (composer, insert, route) in enumerate(CASES):
            url = client.chat_url(f"post-{index}", composer=composer)
            driver = PlaywrightDriver(variant(base, insert, route), DriverOptions(url=url, storage_state=state), browser=browser)
            await driver.start()
            start = time.perf_counter()
            posted = await driver.post(text)
            post_s = time.perf_counter() - start
            got, read_s = await read_back(driver, posted)
            stored = client.messages(f"post-{index}")[0].markdown == text
            code_ok = [b.text for b in got.code_blocks] == [code]
            rows.append((f"{composer}/{insert}/{route}", post_s, read_s, stored, got.text == text, code_ok))
            await driver.close()
        await browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50_000)
    args = parser.parse_args()
    setup_logging("WARNING")
    with BackgroundServer(create_app(), timeout_graceful_shutdown=1) as server, tempfile.TemporaryDirectory() as tmp:
        client = MockChatClient(server.url)
        state = client.write_storage_state(Path(tmp) / "state.json")
        rows = asyncio.run(run(client, state, args.size))
    size = len(message(args.size)[0].encode())
    print(f"post {size} bytes ({size / 1024:.1f} KiB), then read it back")
    print(f"{'composer/insert/route':<36}{'post s':>8}{'read s':>8}{'stored':>8}{'text':>6}{'code':>6}")
    yes = {True: "yes", False: "NO"}
    for name, post_s, read_s, stored, text_ok, code_ok in rows:
        print(f"{name:<36}{post_s:>8.2f}{read_s:>8.2f}{yes[stored]:>8}{yes[text_ok]:>6}{yes[code_ok]:>6}")


if __name__ == "__main__":
    main()
