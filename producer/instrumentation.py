"""Measuring the producer: a request middleware, ``GET /metrics``, and the event-loop lag probe."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler
from redis.exceptions import RedisError

from producer import keys
from producer.errors import Handler
from producer.metrics import NO_MODE, ProducerMetrics, QueueSnapshot
from producer.store import queue_snapshot

LOOP_LAG_INTERVAL_S = 0.1
"""How often the lag probe asks to be woken; how late it wakes is the lag."""

QUEUE_REFRESH_S = 0.5
"""How often the queue gauges are read from Redis, in the background (not at scrape time)."""

UNMATCHED_ROUTE = "unmatched"
"""The ``route`` label of a request that matched no route (bounded, unlike its path)."""

CLIENT_CLOSED_STATUS = 499
"""The ``status`` label of a request whose client went away before the answer."""


def request_metrics(metrics: ProducerMetrics) -> web.middleware:  # type: ignore[valid-type]
    """A middleware counting every request by route template, job mode and status."""

    @web.middleware
    async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED_STATUS
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else UNMATCHED_ROUTE
            mode = request.get(keys.JOB_MODE, NO_MODE)
            metrics.observe_request(route, mode, status, time.perf_counter() - started)

    return measure


def metrics_handler(metrics: ProducerMetrics) -> Handler:
    """``GET /metrics``: expose everything; the queue gauges are the last background read.

    A scrape never waits on Redis: behind a burst of submits that round trip can take longer
    than the rest of the scrape together.
    """
    return make_aiohttp_handler(metrics.registry)


async def _read_queue(app: web.Application) -> None:
    metrics, config = app[keys.METRICS], app[keys.CONFIG]
    snapshot: QueueSnapshot | None
    try:
        snapshot = await asyncio.wait_for(
            queue_snapshot(app[keys.REDIS], config.queue), config.broker_timeout_s
        )
    except (RedisError, OSError, TimeoutError):
        snapshot = None
    metrics.queue.update(snapshot, time.time())


async def _refresh_queue(app: web.Application, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        await _read_queue(app)


async def queue_gauges_ctx(app: web.Application) -> AsyncIterator[None]:
    """Read the queue from Redis at start, then every :data:`QUEUE_REFRESH_S` in the background.

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
