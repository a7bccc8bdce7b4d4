"""How a launched browser is renewed so that a long attachment's memory stays bounded: the chat settings' part
that the page applies (`bridge.chat.page.ChatPage.reload`). No browser code here: the settings load it."""

from __future__ import annotations

from pydantic import BaseModel, Field

CEILING_EVERY = 10
"""The browser's memory is looked at every this many reloads."""


class Recycling(BaseModel):
    recycle_reloads: int = Field(
        default=100, ge=0,
        description="every this many reloads the page and its browser context are replaced by new ones (the login carried "
        "over), so what a long-lived page holds is let go; 0: never. A browser the bridge attached to is never recycled",
    )
    relaunch_renewals: int = Field(
        default=5, ge=0,
        description="every this many renewals, the browser the bridge launched is launched anew on a new Playwright "
        "connection instead (what the connection, its driver and the browser's own processes keep goes with them); 0: never",
    )
    browser_ceiling_mib: float | None = Field(
        default=1024, gt=0,
        description=f"when the launched browser's processes and Playwright's driver take more memory than this (PSS, MiB; "
        f"looked at every {CEILING_EVERY} reloads), the reload relaunches them; None: no ceiling",
    )
