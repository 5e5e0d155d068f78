"""Timed phase announcements against a real aiohttp server on a real port."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
import pytest
from aiohttp import web

from burstlab.client import ProducerClient
from burstlab.experiments.loadgen.phases import PhaseAnnouncer


def _app(seen: list[tuple[float, dict[str, Any]]], status: int) -> web.Application:
    async def put(request: web.Request) -> web.Response:
        seen.append((time.time(), orjson.loads(await request.read())))
        return web.json_response({"error": "refused", "detail": "test"}, status=status)

    app = web.Application()
    app.router.add_put("/experiment", put)
    return app


async def test_a_timed_phase_arrives_when_due_with_its_context(aiohttp_server: Any) -> None:
    # Given a server that records each PUT /experiment with its arrival time
    seen: list[tuple[float, dict[str, Any]]] = []
    server = await aiohttp_server(_app(seen, 200))
    async with ProducerClient(f"http://127.0.0.1:{server.port}") as client:
        phases = PhaseAnnouncer(client, "timed test", "async", 4)
        # When a burst phase is announced for 0.3 s from now, and the announcer settles
        due = time.time() + 0.3
        phases.at(due, "burst")
        await phases.settle()
    # Then exactly one request came, with the phase's context, and not before it was due
    # (the event loop's timers round to whole milliseconds)
    assert len(seen) == 1
    arrived, context = seen[0]
    assert context == {"scenario": "timed-test", "mode": "async", "workers": 4, "phase": "burst"}
    assert arrived >= due - 0.001


async def test_a_refused_timed_phase_is_a_warning_not_an_error(
    aiohttp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a server that refuses the context
    seen: list[tuple[float, dict[str, Any]]] = []
    server = await aiohttp_server(_app(seen, 409))
    async with ProducerClient(f"http://127.0.0.1:{server.port}") as client:
        phases = PhaseAnnouncer(client, "refused", "sync", 1)
        # When a phase is announced for now
        with caplog.at_level(logging.WARNING):
            phases.at(time.time(), "load")
            await phases.settle()
    # Then the run goes on, and the refusal is logged with its status
    assert len(seen) == 1
    assert "cannot set the experiment phase" in caplog.text and "409" in caplog.text
