"""What the producer reads about the async queue, whichever broker holds it.

Both brokers answer the same three questions: the queue's depth for ``GET /queue``, a snapshot
for the backlog gauges at scrape time, and whether the broker answers at all (``/readyz``).
A broker that cannot answer raises :class:`QueueUnreadable` (or times out).
"""

from __future__ import annotations

from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from producer.backends.snapshot import QueueSnapshot
from producer.backends.store import queue_depth, queue_snapshot


class QueueUnreadable(Exception):
    """The broker did not answer a read of the queue."""


class QueueReader(Protocol):
    """The async queue as the producer reads it."""

    async def depth(self) -> dict[str, int]:
        """``queued``, ``reserved``, ``backlog`` (their sum) and ``finished_total``."""
        ...

    async def snapshot(self) -> QueueSnapshot:
        """The backlog and the oldest queued job's enqueue time, for a scrape."""
        ...

    async def ping(self) -> None:
        """Return if the broker answers; raise :class:`QueueUnreadable` if not."""
        ...


READ_ERRORS = (QueueUnreadable, RedisError, OSError, TimeoutError)
"""What a read of the queue raises when the broker is down, for the handlers to catch."""


class RedisQueue:
    """The queue as kombu's Redis lists and unacked hash."""

    def __init__(self, client: aioredis.Redis, queue: str) -> None:
        self._client = client
        self._queue = queue

    async def depth(self) -> dict[str, int]:
        return await queue_depth(self._client, self._queue)

    async def snapshot(self) -> QueueSnapshot:
        return await queue_snapshot(self._client, self._queue)

    async def ping(self) -> None:
        await self._client.ping()
