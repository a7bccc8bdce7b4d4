"""Chat drivers by name: the settings' `chat.driver` (or `devspace run --driver`) picks one.

A driver is a module with `create_driver(settings, attachment) -> ChatDriver`. The built-in ones are
listed in DRIVERS; a chat UI of your own is one module, named here or by its import path in the settings.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from bridge.chat.base import Attachment, ChatDriver

if TYPE_CHECKING:
    from bridge.config import Settings

DRIVERS: dict[str, str] = {
    "playwright": "bridge.chat.playwright_driver",  # a chat web UI in a browser page (launched, or a tab over CDP)
    "memory": "bridge.chat.memory",  # a chat held in memory: tests and dry runs of the modules above the driver
}
FACTORY = "create_driver"


class DriverFactory(Protocol):
    def __call__(self, settings: Settings, attachment: Attachment) -> ChatDriver: ...


class DriverError(ValueError):
    """No chat driver of that name, or its module has no `create_driver`."""


def driver_factory(name: str) -> DriverFactory:
    """The `create_driver` of a built-in driver name, or of a module given by its import path."""
    target = DRIVERS.get(name, name)
    try:
        module = importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name is None or not target.startswith(exc.name):
            raise  # the driver's module exists but one of its imports is missing
        raise DriverError(f"no chat driver {name!r} (built in: {', '.join(sorted(DRIVERS))}; or a module path)") from None
    factory: DriverFactory | None = getattr(module, FACTORY, None)
    if factory is None:
        raise DriverError(f"chat driver module {target} has no {FACTORY}(settings, attachment)")
    return factory
