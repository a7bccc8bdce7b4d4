"""The service's endpoints and executor wrappers, for the service tests."""

from __future__ import annotations

import threading
import time
from typing import Any

from sandbox.executor import Executor
from sandbox.operations import Request, operation_of

ENDPOINTS = [
    ("GET", "/healthz"),
    ("GET", "/files"),
    ("GET", "/get_code"),
    ("POST", "/sandwich"),
    ("POST", "/apply"),
    ("POST", "/check_compile"),
    ("POST", "/check_test"),
    ("POST", "/check_degradation"),
    ("POST", "/preflight"),
    ("POST", "/commit"),
    ("POST", "/undo"),
    ("GET", "/status"),
]
"""Every operation of the sandbox service (method, path); all but /healthz need the token."""


class Recording:
    """Wraps an executor and records each operation, when it started and when it ended (in this process's monotonic clock)."""

    def __init__(self, inner: Executor, gate: threading.Event | None = None) -> None:
        self.inner = inner
        self.gate = gate
        self.entered = threading.Event()
        self.calls: list[tuple[str, float, float]] = []
        self._lock = threading.Lock()

    def run(self, request: Request[Any]) -> Any:
        started = time.monotonic()
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(60), "the test never opened the gate"
        try:
            return self.inner.run(request)
        finally:
            with self._lock:
                self.calls.append((operation_of(request).name, started, time.monotonic()))

    def close(self) -> None:
        self.inner.close()
