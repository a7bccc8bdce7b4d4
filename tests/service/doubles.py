"""The service's endpoints and executor wrappers, for the service tests."""

from __future__ import annotations

import threading
import time
from typing import Any

from sandbox.executor import Executor

ENDPOINTS = [
    ("GET", "/healthz"),
    ("GET", "/files"),
    ("GET", "/get_code"),
    ("POST", "/sandwich"),
    ("POST", "/apply"),
    ("POST", "/check_compile"),
    ("POST", "/check_logic"),
    ("POST", "/check_degradation"),
    ("POST", "/commit"),
    ("POST", "/undo"),
    ("GET", "/status"),
]
"""Every operation of the sandbox service (method, path); all but /healthz need the token."""


class Recording:
    """Wraps an executor and records when each call started and ended (in this process's monotonic clock)."""

    def __init__(self, inner: Executor, gate: threading.Event | None = None) -> None:
        self.inner = inner
        self.gate = gate
        self.entered = threading.Event()
        self.calls: list[tuple[str, float, float]] = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            self.entered.set()
            if self.gate is not None:
                assert self.gate.wait(60), "the test never opened the gate"
            try:
                return target(*args, **kwargs)
            finally:
                with self._lock:
                    self.calls.append((name, started, time.monotonic()))

        call.__name__ = name
        return call
