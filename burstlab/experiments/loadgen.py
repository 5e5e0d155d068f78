"""The open-loop load generator: every request goes at its scheduled time, whatever the replies.

A closed-loop tool waits for a reply before sending the next request, so when the service
stalls it stops sending, and the requests it never sent never show up as slow (coordinated
omission). Here one dispatcher walks the schedule and starts each request as its own task at
its intended time; latency is measured from that intended time, and the lag between intended
and actual send is recorded so a generator that fell behind is visible.
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


async def _send(
    session: aiohttp.ClientSession,
    url: str,
    mode: str,
    record: Sent,
    timeout: aiohttp.ClientTimeout,
    progress: Progress,
) -> None:
    body = encode_job(mode, record.planned.kind, record.planned.duration_ms)
    record.sent = time.time()
    progress.sent += 1
    try:
        async with session.post(
            url, data=body, headers={"Content-Type": "application/json"}, timeout=timeout
        ) as response:
            raw = await response.read()
            record.answered = time.time()
            record.status = response.status
        try:
            decoded = orjson.loads(raw)
            record.body = decoded if isinstance(decoded, dict) else None
        except orjson.JSONDecodeError:
            record.body = None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"
        progress.errors += 1
    finally:
        progress.answered += 1


async def generate(
    session: aiohttp.ClientSession,
    base_url: str,
    mode: str,
    schedule: Schedule,
    *,
    timeout_s: float,
    progress: Progress | None = None,
    on_start: Callable[[float], None] | None = None,
) -> list[Sent]:
    """Send ``schedule`` to ``base_url``'s ``POST /jobs`` in ``mode``, open loop; return every send.

    Intended times are epoch seconds (``time.time()``) so they compare with the timestamps the
    services record; the schedule is paced on the loop's monotonic clock.
    """
    progress = progress or Progress()
    progress.offered = schedule.offered
    loop = asyncio.get_running_loop()
    start_loop = loop.time() + START_LEAD_S
    start_epoch = time.time() + START_LEAD_S
    if on_start is not None:
        on_start(start_epoch)
    url = f"{base_url.rstrip('/')}/jobs"
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    records: list[Sent] = []
    tasks: list[asyncio.Task[None]] = []
    # A full garbage collection over thousands of in-flight requests pauses the loop for tens
    # of milliseconds, which would show as generator lag: collect only after the run.
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for planned in schedule.items:
            delay = start_loop + planned.offset_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            record = Sent(planned=planned, intended=start_epoch + planned.offset_s)
            records.append(record)
            tasks.append(asyncio.create_task(_send(session, url, mode, record, timeout, progress)))
        await asyncio.gather(*tasks)
    finally:
        if gc_was_enabled:
            gc.enable()
    return records


def client_session(connections: int = 0) -> aiohttp.ClientSession:
    """A client session for the generator: unlimited connections by default (open loop)."""
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    return aiohttp.ClientSession(connector=connector)
