"""The open-loop load generator: every request goes at its scheduled time, whatever the replies.

A closed-loop tool waits for a reply before sending the next request, so when the service
stalls it stops sending, and the requests it never sent never show up as slow (coordinated
omission). Here one dispatcher walks the schedule and, at each intended time, writes a request
built before the run on a keep-alive connection opened before the run (:mod:`rawhttp`); each
reply is read by its connection as it arrives and recorded from there, with no task or future
per request. Latency is measured from that intended time, and the lag
between intended and actual send is recorded so a generator that fell behind is visible.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from burstlab.client import encode_job
from burstlab.experiments.loadgen.rawhttp import (
    Connection,
    ConnectionPool,
    Endpoint,
    Reply,
    build_post,
)
from burstlab.scenario.schedule import PlannedJob, Schedule

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
    connections_opened: int = 0
    """Sends that found every warm connection busy and opened one (the target fell behind)."""
    waited_for_connection: int = 0
    """Sends that found :data:`MAX_CONNECTIONS` in use and waited for one to free."""
    started_at: float = field(default_factory=time.time)


WARM_CONNECTIONS_MAX = 512
"""At most this many keep-alive connections are opened before a run (one per planned send
below that), so a burst finds a warm connection for every request in flight."""


MAX_CONNECTIONS = 4096
"""At most this many connections at once, warm, open or opening. Beyond it a send that finds
none idle waits for the next one freed, in order, and its lag shows it: a target far behind
then flags the run instead of taking a socket per send (uncapped, a capacity ramp against an
app that had stopped keeping up once held 72,000 and ran out of file descriptors)."""


SLEEP_RESOLUTION_S = 0.001
"""The event loop's timer resolution: uvloop rounds a delay to whole milliseconds and runs one
under half a millisecond at once, so a dispatcher that slept to each send of 5,000 a second would
either spin a core re-checking the clock or send up to half a millisecond early."""


def _tick_ceil(delay_s: float) -> float:
    """``delay_s`` rounded up to a whole, non-zero number of timer ticks: the dispatcher never
    wakes before the next send is due, and sends due within one tick go together."""
    return max(math.ceil(delay_s / SLEEP_RESOLUTION_S), 1) * SLEEP_RESOLUTION_S


def _decode(raw: bytes) -> dict[str, Any] | None:
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None


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


class _Sender:
    """Writes each send on an idle connection and records its reply from the connection's
    callback; a send that finds none idle opens one in a task of its own, or, with
    ``max_connections`` in use, waits in order for the next one freed."""

    def __init__(
        self, pool: ConnectionPool, timeout_s: float, progress: Progress, max_connections: int
    ) -> None:
        self._pool = pool
        self._timeout_s = timeout_s
        self._progress = progress
        self._max_connections = max_connections
        self._outstanding = 0
        self._dispatched = False
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._opening: set[asyncio.Task[None]] = set()
        self._waiting: deque[tuple[Sent, bytes]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def send(self, record: Sent, request: bytes) -> None:
        self._outstanding += 1
        # in order: none goes ahead of a send already waiting
        if self._waiting or not self._dispatch(record, request):
            self._progress.waited_for_connection += 1
            self._waiting.append((record, request))

    def _dispatch(self, record: Sent, request: bytes) -> bool:
        """Send now on an idle or a new connection; False (nothing done) at the cap."""
        connection = self._pool.take_idle()
        if connection is not None:
            self._write(connection, record, request)
        elif self._pool.size + len(self._opening) < self._max_connections:
            self._progress.connections_opened += 1
            task = asyncio.create_task(self._send_on_new(record, request))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)
        else:
            return False
        return True

    def _write(self, connection: Connection, record: Sent, request: bytes) -> None:
        record.sent = time.time()
        self._progress.sent += 1
        connection.send(request, functools.partial(self._answered, connection, record))

    def _send_waiting(self) -> None:
        """Send what waits for a connection, oldest first, while one is idle or may open."""
        while self._waiting:
            record, request = self._waiting.popleft()
            if not self._dispatch(record, request):
                self._waiting.appendleft((record, request))
                return

    async def _send_on_new(self, record: Sent, request: bytes) -> None:
        """Open a connection and send on it (the send then counts the set-up as lag)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                connection = await self._pool.open_one()
        except (TimeoutError, OSError) as exc:
            self._answered(None, record, None, exc)
            return
        self._write(connection, record, request)

    def _answered(
        self,
        connection: Connection | None,
        record: Sent,
        reply: Reply | None,
        error: BaseException | None,
    ) -> None:
        if reply is not None:
            record.answered = time.time()
            record.status = reply.status
            record.body = _decode(reply.body)
            if connection is not None:
                self._pool.give_back(connection, reply.keep_alive)
        else:
            record.error = f"{type(error).__name__}: {error}"
            self._progress.errors += 1
            if connection is not None:
                self._pool.give_back(connection, reusable=False)
        self._progress.answered += 1
        self._outstanding -= 1
        if self._waiting:
            self._send_waiting()
        if self._dispatched and self._outstanding == 0 and not self._done.done():
            self._done.set_result(None)

    async def wait(self) -> None:
        """Return once every send is answered or has failed."""
        self._dispatched = True
        if self._outstanding:
            await self._done

    def watch(self) -> None:
        """Fail requests that waited ``timeout_s``, checked every tick until :meth:`unwatch`."""
        loop = asyncio.get_running_loop()
        tick = min(max(self._timeout_s / 20, 0.05), 1.0)

        def check() -> None:
            self._expire_waiting()  # first: a connection freed by expiry must not take them
            self._pool.expire(self._timeout_s)
            self._timer = loop.call_later(tick, check)

        self._timer = loop.call_later(tick, check)

    def _expire_waiting(self) -> None:
        """Fail the sends that waited ``timeout_s`` for a connection without getting one."""
        cutoff = time.time() - self._timeout_s
        while self._waiting and self._waiting[0][0].intended <= cutoff:
            record, _ = self._waiting.popleft()
            error = TimeoutError(f"no connection free within {self._timeout_s:g} s")
            self._answered(None, record, None, error)

    def unwatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._opening):
            task.cancel()


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
    max_connections: int = MAX_CONNECTIONS,
) -> list[Sent]:
    """Send ``schedule`` to ``base_url``'s ``POST /jobs`` in ``mode``, open loop; return every send.

    Before the first send, ``warm_connections`` keep-alive connections (default: one per send,
    up to :data:`WARM_CONNECTIONS_MAX`) are opened and every request is built. The dispatcher
    then writes every send that is due, back to back, and sleeps to the first whole timer tick
    at or after the next one (never before it: no send goes early); each reply is read
    by its connection and recorded from there (a send that finds no idle connection opens one,
    up to ``max_connections`` at once, beyond which it waits for one to free; its lag counts
    the set-up or the wait). Intended times are epoch seconds (``time.time()``) so they
    compare with the timestamps the services record; the schedule is paced on
    ``time.monotonic()``, not ``loop.time()``, which uvloop caches per loop iteration at
    millisecond resolution (a stale clock oversleeps). ``start_at`` (epoch seconds) fixes when
    offset 0 is, so several generators keep one schedule; by default it is
    :data:`START_LEAD_S` after the connections are warm.
    """
    progress = progress or Progress()
    progress.offered = schedule.offered
    endpoint = Endpoint.from_url(f"{base_url.rstrip('/')}/jobs")
    requests = _requests(endpoint, mode, schedule)
    pool = ConnectionPool(endpoint)
    if warm_connections is None:
        warm_connections = min(len(requests), WARM_CONNECTIONS_MAX)
    records: list[Sent] = []
    sender = _Sender(pool, timeout_s, progress, max_connections)
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
        sender.watch()
        items = schedule.items
        count = len(items)
        index = 0
        while index < count:
            now = time.monotonic()
            # every send due by now goes in this step, back to back
            while index < count and start_mono + items[index].offset_s <= now:
                planned = items[index]
                record = Sent(planned=planned, intended=start_epoch + planned.offset_s)
                records.append(record)
                sender.send(record, requests[index])
                index += 1
            if index < count:
                delay = start_mono + items[index].offset_s - time.monotonic()
                await asyncio.sleep(_tick_ceil(delay))
        await sender.wait()
    finally:
        sender.unwatch()
        if gc_was_enabled:
            gc.enable()
        pool.close()
    return records


def client_session(connections: int = 0) -> aiohttp.ClientSession:
    """A client session for the run's other calls (probes, phases, collection)."""
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    return aiohttp.ClientSession(connector=connector)
