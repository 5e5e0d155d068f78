"""Job status events: one pub/sub subscription per producer wakes every long-poll waiter.

Workers publish on :data:`burstlab.jobs.names.JOB_EVENTS_CHANNEL` whenever a job's status
changes (format: :mod:`burstlab.jobs.events`); a final event is also handed to ``on_final``.
``GET /jobs/{id}?wait=S`` registers a waiter *before* reading the record, so no change is
missed between the read and the wait, and Redis is never polled in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from burstlab.jobs.events import FinalEvent, decode_event
from burstlab.jobs.names import JOB_EVENTS_CHANNEL

log = logging.getLogger(__name__)

_RECONNECT_DELAY_S = 0.5
_CLOSE_TIMEOUT_S = 2.0


class JobEvents:
    """Dispatches status-change events from Redis to waiting requests."""

    def __init__(
        self,
        client: aioredis.Redis,
        on_final: Callable[[FinalEvent], None] | None = None,
    ) -> None:
        self._client = client
        self._on_final = on_final
        self._waiters: dict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        """Start listening (call inside the running loop)."""
        self._task = asyncio.create_task(self._listen(), name="burstlab-job-events")

    async def close(self) -> None:
        """Stop listening and release every waiter."""
        if self._task is not None:
            self._task.cancel()
            # Bounded: a subscription cancelled mid-read has been seen to hang in its close
            # with nothing left to wake it; shutting down must not wait on it forever.
            done, _ = await asyncio.wait({self._task}, timeout=_CLOSE_TIMEOUT_S)
            if not done:
                log.warning("job events listener still closing after %g s; left", _CLOSE_TIMEOUT_S)
            self._task = None
        for futures in self._waiters.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)
        self._waiters.clear()

    @contextlib.contextmanager
    def waiter(self, job_id: str):  # type: ignore[no-untyped-def]
        """Register interest in ``job_id``; yields a future resolved at its next event."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[job_id].add(future)
        try:
            yield future
        finally:
            futures = self._waiters.get(job_id)
            if futures is not None:
                futures.discard(future)
                if not futures:
                    del self._waiters[job_id]

    def _dispatch(self, job_id: str) -> None:
        for future in self._waiters.pop(job_id, ()):
            if not future.done():
                future.set_result(None)

    def _receive(self, data: bytes | str) -> None:
        """A job's start (its bare id) or its end (a final event with the worker's timings)."""
        try:
            event = decode_event(data)
        except ValueError as exc:
            log.warning("ignoring an unreadable job event: %s", exc)
            return
        if isinstance(event, str):
            self._dispatch(event)
            return
        self._dispatch(event.job_id)
        if self._on_final is not None:
            self._on_final(event)

    def _wake_all(self) -> None:
        """After a reconnect, events may have been missed: let every waiter re-read."""
        for job_id in list(self._waiters):
            self._dispatch(job_id)

    async def _listen(self) -> None:
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(JOB_EVENTS_CHANNEL)
                self.connected.set()
                self._wake_all()
                async for message in pubsub.listen():
                    if message and message.get("type") == "message":
                        self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.connected.clear()
                log.warning("job events subscription lost (%s); reconnecting", exc)
                await asyncio.sleep(_RECONNECT_DELAY_S)
            finally:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                        await pubsub.aclose()
