"""Attaching the bridge to a chat from settings: the driver the settings name, the orchestrator, the run loop."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

from bridge.chat.base import Attachment, ChatDriver
from bridge.chat.drivers import driver_factory
from bridge.chat.profile import Profile, load_profile
from bridge.config import Settings
from bridge.models import ChatMessage
from bridge.orchestrator import Orchestrator
from bridge.runner import Bridge

__all__ = ["Attachment", "chat_id_of", "make_bridge", "profile_for", "run_until_stopped"]


def profile_for(settings: Settings) -> Profile:
    return load_profile(settings.chat.profile, settings.chat.selectors_file)


def chat_id_of(driver: ChatDriver) -> str:
    """The conversation's id as the UI names it, else (a new chat) a stable digest of its address."""
    return driver.chat_id or hashlib.sha256(driver.url.encode()).hexdigest()[:12]


def make_bridge(
    settings: Settings,
    orchestrator: Orchestrator,
    attachment: Attachment,
    *,
    on_message: Callable[[ChatMessage], None] | None = None,
    on_post: Callable[[str], None] | None = None,
) -> Bridge:
    """A Bridge on the driver the settings name; a dead driver is replaced by a new one on the conversation's address."""
    create = driver_factory(settings.chat.driver)
    driver = create(settings, attachment)
    bridge = Bridge(
        driver,
        orchestrator,
        chat_id_of(driver),
        dry_run=orchestrator.dry_run,
        catch_up=settings.chat.catch_up,
        idle_wait=driver.poll_interval,
        on_message=on_message,
        on_post=on_post,
    )

    async def reconnect() -> ChatDriver:
        return create(settings, attachment.model_copy(update={"url": bridge.driver.url}))

    bridge.reconnect = reconnect
    return bridge


async def run_until_stopped(bridge: Bridge, stop: asyncio.Event) -> None:
    """Run the loop; always release the driver."""
    try:
        await bridge.run(stop)
    finally:
        await bridge.driver.close()
