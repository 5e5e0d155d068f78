"""The open-loop load generator: every request goes at its scheduled time, whatever the replies.

A closed-loop tool waits for a reply before sending the next request, so when the service
stalls it stops sending, and the requests it never sent never show up as slow (coordinated
omission). Here one dispatcher walks the schedule and, at each intended time, writes a request
built before the run on a keep-alive connection opened before the run (:mod:`rawhttp`); each
reply is awaited in a task of its own. Latency is measured from that intended time, and the lag
between intended and actual send is recorded so a generator that fell behind is visible.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from burstlab.client import encode_job
from burstlab.experiments.rawhttp import (
    Connection,
    ConnectionPool,
    Endpoint,
    HttpError,
    build_post,
)
from burstlab.experiments.schedule import PlannedJob, Schedule

START_LEAD_S = 0.2
"""The first send is scheduled this far ahead, so set-up does not count as generator lag."""


@dataclass
class Sent:
    """One request of a run: when it was meant to go, went, and was answered, and the answer."""

    planned: PlannedJob
    intended: float
    sent: float = 0.0
    answered: float | None = None
    status: int = 0
    body: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class Progress:
    """Live counters of a run, read by the progress display."""

    offered: int = 0
    sent: int = 0
    answered: int = 0
    errors: int = 0
    started_at: float = field(default_factory=time.time)


WARM_CONNECTIONS_MAX = 512
"""At most this many keep-alive connections are opened before a run (one per planned send
below that), so a burst finds a warm connection for every request in flight."""


def _decode(raw: bytes) -> dict[str, Any] | None:
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None


async def _answer(
    pool: ConnectionPool,
    connection: Connection | None,
    request: bytes,
    record: Sent,
    timeout_s: float,
    progress: Progress,
) -> None:
    """Await the reply of a request already written on ``connection``; with no connection,
    open one and send first (the send then counts the set-up as lag)."""
    try:
        async with asyncio.timeout(timeout_s):
            if connection is None:
                connection = await pool.open_one()
                record.sent = time.time()
                progress.sent += 1
                connection.write(request)
            reply = await connection.read_reply()
        record.answered = time.time()
        record.status = reply.status
        record.body = _decode(reply.body)
        pool.give_back(connection, reply.keep_alive)
    except (HttpError, TimeoutError, OSError, ValueError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"
        progress.errors += 1
        if connection is not None:
            pool.give_back(connection, reusable=False)
    finally:
        progress.answered += 1


def _requests(endpoint: Endpoint, mode: str, schedule: Schedule) -> list[bytes]:
    """Every send's complete request, built before the run (one encoding per distinct job)."""
    built: dict[tuple[str, float], bytes] = {}
    requests = []
    for planned in schedule.items:
        key = (planned.kind, planned.duration_ms)
        if key not in built:
            built[key] = build_post(endpoint, encode_job(mode, *key))
        requests.append(built[key])
    return requests


async def generate(
    base_url: str,
    mode: str,
    schedule: Schedule,
    *,
    timeout_s: float,
    progress: Progress | None = None,
    on_start: Callable[[float], None] | None = None,
    warm_connections: int | None = None,
    start_at: float | None = None,
) -> list[Sent]:
    """Send ``schedule`` to ``base_url``'s ``POST /jobs`` in ``mode``, open loop; return every send.

    Before the first send, ``warm_connections`` keep-alive connections (default: one per send,
    up to :data:`WARM_CONNECTIONS_MAX`) are opened and every request is built. Each send is then
    written by the dispatcher itself at its time, and its reply awaited in a task of its own.
    Intended times are epoch seconds (``time.time()``) so they compare with the timestamps the
    services record; the schedule is paced on ``time.monotonic()``, not ``loop.time()``, which
    uvloop caches per loop iteration at millisecond resolution (a stale clock oversleeps).
    ``start_at`` (epoch seconds) fixes when offset 0 is, so several generators keep one schedule;
    by default it is :data:`START_LEAD_S` after the connections are warm.
    """
    progress = progress or Progress()
    progress.offered = schedule.offered
    endpoint = Endpoint.from_url(f"{base_url.rstrip('/')}/jobs")
    requests = _requests(endpoint, mode, schedule)
    pool = ConnectionPool(endpoint)
    if warm_connections is None:
        warm_connections = min(len(requests), WARM_CONNECTIONS_MAX)
    records: list[Sent] = []
    tasks: list[asyncio.Task[None]] = []
    # A full garbage collection over thousands of in-flight requests pauses the loop for tens
    # of milliseconds, which would show as generator lag: collect only after the run.
    gc_was_enabled = gc.isenabled()
    try:
        await pool.warm(warm_connections)
        now_epoch, now_mono = time.time(), time.monotonic()
        start_epoch = now_epoch + START_LEAD_S if start_at is None else start_at
        start_mono = now_mono + (start_epoch - now_epoch)
        if on_start is not None:
            on_start(start_epoch)
        gc.collect()
        gc.disable()
        for planned, request in zip(schedule.items, requests, strict=True):
            delay = start_mono + planned.offset_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            record = Sent(planned=planned, intended=start_epoch + planned.offset_s)
            records.append(record)
            connection = pool.take_idle()
            if connection is not None:
                record.sent = time.time()
                progress.sent += 1
                connection.write(request)
            tasks.append(
                asyncio.create_task(_answer(pool, connection, request, record, timeout_s, progress))
            )
        await asyncio.gather(*tasks)
    finally:
        if gc_was_enabled:
            gc.enable()
        pool.close()
    return records


def client_session(connections: int = 0) -> aiohttp.ClientSession:
    """A client session for the run's other calls (probes, phases, collection)."""
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    return aiohttp.ClientSession(connector=connector)
