"""Redis connections that come back: the producer's clients and its one dedicated connection.

Every Redis connection of the producer is made here. The pooled clients check a connection at each
checkout; the publisher's dedicated connection (:class:`DedicatedConnection`) is checked before
each use the same way, whatever the redis-py version: a connection the server closed (a restart,
``CLIENT KILL``, an idle timeout) or one with unread data is dropped and opened again, so the next
command after Redis is reachable again goes through.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

POOL_SIZE = 64
"""Connections shared by all requests; under a burst, requests wait for one (bounded)."""

PUBSUB_POOL_SIZE = 2


def redis_client(url: str, timeout_s: float, *, for_pubsub: bool = False) -> aioredis.Redis:
    """A Redis client that fails fast (``timeout_s`` to connect, to wait for a pooled connection,
    twice that for a reply) so a down broker gives a quick 503."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=PUBSUB_POOL_SIZE if for_pubsub else POOL_SIZE,
        timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        socket_timeout=None if for_pubsub else timeout_s * 2,
        # One immediate retry on a broken connection: after a Redis restart each pooled
        # connection fails once; a down broker still fails fast (refused twice).
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        health_check_interval=15 if for_pubsub else 0,
    )
    return aioredis.Redis(connection_pool=pool)


class DedicatedConnection:
    """One connection of ``client``'s pool settings, kept outside the pool for one user at a time.

    Cheaper than a pooled checkout and release per use (a condition, a timer, the pool's
    bookkeeping), and checked before each use as the pool would: :meth:`ready` gives a connection
    that is open and has nothing left unread. After a failed command, :meth:`discard` drops it."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._connection: AbstractConnection | None = None

    async def ready(self) -> AbstractConnection:
        """The connection, connected; reconnected first if the server closed it or something is
        left unread on it. Raises redis' ConnectionError or TimeoutError if Redis is down."""
        if self._connection is None:
            self._connection = self._client.connection_pool.make_connection()
        connection = self._connection
        await connection.connect()  # nothing to do when connected
        try:
            stale = await connection.can_read()
        except (RedisConnectionError, RedisTimeoutError, OSError):
            # redis-py 8 raises here for a connection the server closed (older releases
            # answered True); either way, without a disconnect it stays "connected" and every
            # later use fails the same way.
            stale = True
        if stale:
            await connection.disconnect()
            await connection.connect()
        return connection

    async def discard(self) -> None:
        """Drop the connection after a failed or interrupted command; the next use reconnects."""
        if self._connection is not None:
            await self._connection.disconnect()
