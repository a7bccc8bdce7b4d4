"""`devspace doctor`: every selector of a profile checked on the live page, as table rows."""

from __future__ import annotations

import contextlib

from playwright.async_api import Page
from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table

from bridge.chat.errors import UIDrift
from bridge.chat.page import READER_JS, DriverOptions
from bridge.chat.playwright_driver import PlaywrightDriver
from bridge.chat.profile import Profile


class DoctorRow(BaseModel):
    """One candidate selector: how many elements it matches (-1: invalid CSS) and whether that is fine.

    A required part is broken when none of its candidates matches; a state marker (streaming,
    logged out, challenge, error) is fine with no match, as long as it is valid CSS.
    """

    part: str
    selector: str
    matches: int
    required: bool
    ok: bool


async def check_page(page: Page, profile: Profile) -> list[DoctorRow]:
    """Count every candidate of every part on the page, and the turns the reader would identify, in one round trip.

    Run it on a conversation with at least one turn of each role.
    """
    parts = profile.selector_parts()
    selectors = [s for _, cands, _ in parts for s in cands]
    report = await page.evaluate(READER_JS, {"op": "count", "profile": profile.model_dump(mode="json"), "selectors": selectors})
    counts = report["counts"]
    rows: list[DoctorRow] = []
    position = 0
    for part, cands, required in parts:
        found = counts[position : position + len(cands)]
        position += len(cands)
        part_ok = not required or any(n > 0 for n in found)
        rows += [DoctorRow(part=part, selector=s, matches=n, required=required, ok=n >= 0 and part_ok) for s, n in zip(cands, found)]
    m = profile.messages
    turns = [
        ("turns with an id", f"[{m.id.attribute}] ~ /{m.id.pattern}/", report["ids"]),
        ("turns told as user", " | ".join(m.user), report["user"]),
        ("turns told as assistant", " | ".join(m.assistant), report["assistant"]),
    ]
    rows += [DoctorRow(part=part, selector=rule, matches=n, required=True, ok=n > 0) for part, rule, n in turns]
    return rows


async def run_doctor(profile: Profile, options: DriverOptions) -> list[DoctorRow]:
    """Open the conversation (even when the page looks broken) and check every selector."""
    driver = PlaywrightDriver(profile, options)
    try:
        with contextlib.suppress(UIDrift):
            await driver.start()
        return await check_page(driver.page, profile)
    finally:
        await driver.close()


def healthy(rows: list[DoctorRow]) -> bool:
    return all(row.ok for row in rows)


def doctor_table(rows: list[DoctorRow], title: str = "selector check") -> Table:
    table = Table(title=title)
    for column in ("part", "selector", "matches", "ok"):
        table.add_column(column, justify="right" if column == "matches" else "left")
    for row in rows:
        mark = "[green]ok[/green]" if row.ok else "[red]BROKEN[/red]"
        table.add_row(row.part, escape(row.selector), "invalid" if row.matches < 0 else str(row.matches), mark)
    return table
