"""Attaching the bridge to a chat from settings: profile, driver, orchestrator, the run loop."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

from pydantic import BaseModel

from bridge.chat.playwright_driver import DriverOptions, PlaywrightDriver
from bridge.chat.profile import Profile, load_profile
from bridge.config import Settings
from bridge.models import ChatMessage
from bridge.orchestrator import Orchestrator
from bridge.runner import Bridge


class Attachment(BaseModel):
    """Where and how to attach: the chat URL and the browser mode."""

    url: str
    cdp_url: str | None = None
    headed: bool = False
    second_session: bool | None = None  # default: a launched browser is a second session, a CDP tab is live


def profile_for(settings: Settings) -> Profile:
    return load_profile(settings.chat.profile, settings.chat.selectors_file)


def chat_id_of(profile: Profile, url: str) -> str:
    """The conversation id from the URL, else a stable digest of the URL."""
    return profile.chat_id(url) or hashlib.sha256(url.encode()).hexdigest()[:12]


def driver_options(settings: Settings, attachment: Attachment) -> DriverOptions:
    """How to open the chat."""
    state = settings.chat.storage_state
    second = attachment.second_session if attachment.second_session is not None else attachment.cdp_url is None
    return DriverOptions(
        url=attachment.url,
        storage_state=state if state is not None and state.is_file() else None,
        cdp_url=attachment.cdp_url,
        chromium=settings.chat.chromium,
        headless=not attachment.headed,
        artifacts_dir=settings.home / "artifacts",
        second_session=second,
    )


def make_bridge(
    settings: Settings,
    orchestrator: Orchestrator,
    attachment: Attachment,
    *,
    on_message: Callable[[ChatMessage], None] | None = None,
    on_post: Callable[[str], None] | None = None,
) -> Bridge:
    """A Bridge with a Playwright driver that is relaunched if the browser dies."""
    profile = profile_for(settings)
    options = driver_options(settings, attachment)

    async def reconnect() -> PlaywrightDriver:
        return PlaywrightDriver(profile, options)

    return Bridge(
        PlaywrightDriver(profile, options),
        orchestrator,
        chat_id_of(profile, attachment.url),
        dry_run=orchestrator.dry_run,
        catch_up=settings.chat.catch_up,
        idle_wait=profile.timing.poll_ms / 1000,
        refresh_every=profile.timing.refresh_ms / 1000 if options.second_session else None,
        reconnect=reconnect,
        on_message=on_message,
        on_post=on_post,
    )


async def run_until_stopped(bridge: Bridge, stop: asyncio.Event) -> None:
    """Run the loop; always release the browser."""
    try:
        await bridge.run(stop)
    finally:
        await bridge.driver.close()
