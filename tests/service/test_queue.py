"""Work on a workspace is serialized: concurrent calls queue, never overlap, and all complete; a long wait is `busy`."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from sandbox.client import HttpExecutor
from sandbox.errors import Busy
from sandbox.local import LocalExecutor
from sandbox.operations import CheckTestRequest, FilesRequest, StatusRequest
from sandbox.serving import BackgroundServer
from tests.service.doubles import Recording

QUEUED = 45
"""More waiting calls than the server's worker threads (anyio's default limit is 40)."""


@pytest.mark.cargo
def test_two_concurrent_checks_queue_and_do_not_overlap(
    serve: Callable[..., BackgroundServer], local: LocalExecutor, token: str
) -> None:
    recording = Recording(local)
    server = serve(recording)
    clients = [HttpExecutor(server.url, token) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda client, name: client.run(CheckTestRequest(filter=name)), clients, ["aggr_trades", "adjust_to_monday"]))
    assert [r.ok for r in results] == [True, True]
    assert [r.filter for r in results] == ["aggr_trades", "adjust_to_monday"]
    first, second = sorted(recording.calls, key=lambda call: call[1])
    assert [first[0], second[0]] == ["check_test", "check_test"]
    assert first[2] <= second[1], f"the two checks overlapped: {first} and {second}"


def test_queued_calls_all_complete_and_health_stays_up(
    serve: Callable[..., BackgroundServer], local: LocalExecutor, token: str
) -> None:
    gate = threading.Event()
    recording = Recording(local, gate)
    server = serve(recording)
    auth = {"Authorization": f"Bearer {token}"}
    with ThreadPoolExecutor(QUEUED) as pool:
        futures = [pool.submit(httpx.get, f"{server.url}/status", headers=auth, timeout=60) for _ in range(QUEUED)]
        assert recording.entered.wait(30)
        health = httpx.get(f"{server.url}/healthz", timeout=10)  # answered while every other call waits
        assert health.json() == {"status": "ok", "busy": True}
        gate.set()
        answers = [f.result() for f in futures]
    assert [a.status_code for a in answers] == [200] * QUEUED
    assert len(recording.calls) == QUEUED
    spans = sorted((start, end) for _, start, end in recording.calls)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "two calls ran on the workspace at once"
    assert httpx.get(f"{server.url}/healthz").json()["busy"] is False


def test_a_call_that_waits_too_long_is_busy(serve: Callable[..., BackgroundServer], local: LocalExecutor, token: str) -> None:
    gate = threading.Event()
    recording = Recording(local, gate)
    server = serve(recording, queue_timeout=0.2)
    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(HttpExecutor(server.url, token).run, StatusRequest())
        assert recording.entered.wait(30)
        with pytest.raises(Busy, match="stayed busy"):
            HttpExecutor(server.url, token).run(FilesRequest())
        answer = httpx.post(f"{server.url}/undo", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 409 and answer.json()["code"] == "busy"
        gate.set()
        assert holder.result().branch == "devspace/mcp"
    assert [name for name, _, _ in recording.calls] == ["status"]  # the refused calls never reached the workspace
    assert HttpExecutor(server.url, token).run(FilesRequest())  # and the queue is free again
