"""Measuring the producer: request metrics per route, ``GET /metrics``, the event-loop lag."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from producer import keys
from producer.errors import Handler, error_for
from producer.metrics import NO_MODE, ProducerMetrics, QueueSnapshot
from producer.queues import READ_ERRORS

LOOP_LAG_INTERVAL_S = 0.1
"""How often the lag probe asks to be woken; how late it wakes is the lag."""

QUEUE_REFRESH_S = 0.5
"""How often the queue gauges are read from the broker, in the background (not at scrape time)."""

UNMATCHED_ROUTE = "unmatched"
"""The ``route`` label of a request that matched no route (bounded, unlike its path)."""

CLIENT_CLOSED_STATUS = 499
"""The ``status`` label of a request whose client went away before the answer."""


def measured(handler: Handler, route: str, metrics: ProducerMetrics) -> Handler:
    """``handler`` with its errors answered as JSON (as :func:`~producer.errors.json_errors`)
    and every request counted by route template, job mode and status.

    A wrapper per route, not an aiohttp middleware: any middleware costs every request
    another coroutine layer of aiohttp's own (about 9 % of a bare 202 handler's throughput)."""

    async def measure(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            try:
                response = await handler(request)
            except Exception as exc:
                response = error_for(request, exc)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED_STATUS
            raise
        finally:
            mode = request.get(keys.JOB_MODE, NO_MODE)
            metrics.observe_request(route, mode, status, time.perf_counter() - started)

    return measure


def metrics_handler(metrics: ProducerMetrics) -> Handler:
    """``GET /metrics``: expose everything; the queue gauges are the last background read.

    A scrape never waits on the broker: behind a burst of submits that round trip can take longer
    than the rest of the scrape together.
    """
    return make_aiohttp_handler(metrics.registry)


async def _read_queue(app: web.Application) -> None:
    metrics, config = app[keys.METRICS], app[keys.CONFIG]
    snapshot: QueueSnapshot | None
    try:
        snapshot = await asyncio.wait_for(app[keys.QUEUE].snapshot(), config.broker_timeout_s)
    except READ_ERRORS:
        snapshot = None
    metrics.queue.update(snapshot, time.time())


async def _refresh_queue(app: web.Application, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        await _read_queue(app)


async def queue_gauges_ctx(app: web.Application) -> AsyncIterator[None]:
    """Read the queue from the broker at start, then every :data:`QUEUE_REFRESH_S` in the
    background.

    The first read (bounded by the broker timeout) comes before the app serves, so the first
    scrape already has the gauges.
    """
    await _read_queue(app)
    task = asyncio.create_task(_refresh_queue(app, QUEUE_REFRESH_S), name="burstlab-queue-gauges")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _probe_loop_lag(metrics: ProducerMetrics, interval_s: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(interval_s)
        metrics.loop_lag.observe(max(0.0, loop.time() - before - interval_s))


async def loop_lag_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the event-loop lag probe for the app's lifetime."""
    task = asyncio.create_task(
        _probe_loop_lag(app[keys.METRICS], LOOP_LAG_INTERVAL_S), name="burstlab-loop-lag"
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
