"""Async jobs on RabbitMQ: published over AMQP with publisher confirms, the queue read back.

The job record still goes to Redis (with every other record and the job events); the task
message goes to the RabbitMQ queue the Celery workers consume, declared as they declare it
(durable; ``x-queue-type`` by ``QUEUE_TYPE``). Submissions that arrive while a batch is in
flight go together in the next one: one queue declare reads the ready count for the backlog
limit, one Redis round trip writes the accepted jobs' records, then their messages are published
at once and each job resolves when the broker confirmed its message. A 202 is never sent for a
message RabbitMQ did not confirm; a batch that fails or takes longer than the broker timeout
answers 503.

The connection opens on first use and after a failure opens again on the next call, so the
producer starts before RabbitMQ does and comes back on its own after a broker restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

import aio_pika
import aiohttp
import redis.asyncio as aioredis
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue
from pamqp.common import FieldTable

from burstlab.jobs.names import FINISHED_COUNTER_KEY
from burstlab.settings import queue_arguments
from producer.backends.publisher import BrokerUnavailable, Command, Enqueue, Publisher, reason
from producer.backends.queues import QueueUnreadable
from producer.backends.snapshot import QueueSnapshot

log = logging.getLogger(__name__)


def amqp_message(job: Enqueue) -> aio_pika.Message:
    """The AMQP message of ``job``: Celery's body, headers and properties, persistent."""
    task = job.task
    return aio_pika.Message(
        task.body,
        headers=task.headers,
        content_type=task.content_type,
        content_encoding=task.content_encoding,
        correlation_id=task.task_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=0,
        # Seconds only, but it lets the management API tell the oldest ready message's age.
        timestamp=int(time.time()),
    )


def management_queue_url(management_url: str, broker_url: str, queue: str) -> str:
    """The management API's URL of ``queue`` in the virtual host of ``broker_url``."""
    vhost = urllib.parse.unquote(urllib.parse.urlsplit(broker_url).path[1:]) or "/"
    quoted = urllib.parse.quote(vhost, safe="")
    return f"{management_url.rstrip('/')}/api/queues/{quoted}/{urllib.parse.quote(queue, safe='')}"


class AmqpBroker:
    """Publishes async jobs to RabbitMQ and reads its queue (a publisher and a queue reader)."""

    def __init__(
        self,
        url: str,
        records: Publisher,
        redis: aioredis.Redis,
        timeout_s: float,
        *,
        queue: str,
        queue_type: str = "classic",
        max_backlog: int = 0,
        record_ttl_s: int,
        management_url: str | None = None,
    ) -> None:
        self._url = url
        self._records = records
        self._redis = redis
        self._timeout_s = timeout_s
        self._queue_name = queue
        arguments = queue_arguments(queue_type)
        self._arguments: FieldTable | None = dict(arguments) if arguments else None
        self._max_backlog = max_backlog
        self._record_ttl_s = record_ttl_s
        self._management_url = (
            management_queue_url(management_url, url, queue) if management_url else None
        )
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._opening = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None
        self._jobs: list[tuple[Enqueue, asyncio.Future[bool]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the record writer and the background flusher (inside the running loop)."""
        self._records.start()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_s))
        self._task = asyncio.create_task(self._run(), name="burstlab-amqp-publisher")

    async def close(self) -> None:
        """Flush what is pending, stop the flusher, close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            if self._jobs:
                await self._flush()
        await self._records.close()
        if self._http is not None:
            await self._http.close()
        await self._drop_connection()

    async def enqueue(self, job: Enqueue) -> bool:
        """Record ``job`` in Redis and publish it to the queue with the next batch.

        Returns False if the queue already held the backlog limit of ready messages (nothing
        was written); raises :class:`BrokerUnavailable` if the broker did not confirm in time.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._jobs.append((job, future))
        self._wakeup.set()
        return await future

    def submit_background(self, commands: Sequence[Command]) -> None:
        """Send record ``commands`` to Redis with its next batch; a failure is logged."""
        self._records.submit_background(commands)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._jobs:
                await self._flush()

    async def _flush(self) -> None:
        jobs, self._jobs = self._jobs, []
        try:
            async with asyncio.timeout(self._timeout_s):  # a timer: wait_for can swallow a stop
                taken = await self._publish([job for job, _ in jobs])
        except Exception as exc:  # any failure of the broker or the record store: not accepted
            await self._drop_connection()
            error = BrokerUnavailable(f"the broker did not take the job: {reason(exc)}")
            # Submissions that queued up behind a failed batch would most likely fail too.
            jobs += self._jobs
            self._jobs = []
            log.warning("publish of %d jobs failed: %s", len(jobs), error)
            for _, future in jobs:
                if not future.done():
                    future.set_exception(error)
            return
        for index, (_, future) in enumerate(jobs):
            if not future.done():
                future.set_result(index < taken)

    async def _publish(self, jobs: list[Enqueue]) -> int:
        """Write the records and publish the messages of as many of ``jobs`` as the backlog
        limit admits (the first ones); return how many."""
        queue = await self._open()
        room = len(jobs)
        if self._max_backlog:
            ready = (await queue.declare()).message_count or 0
            room = max(0, min(room, self._max_backlog - ready))
        taken = jobs[:room]
        if not taken:
            return 0
        commands: list[Command] = []
        for job in taken:
            commands.append(("HSET", job.key, *job.fields))
            commands.append(("EXPIRE", job.key, self._record_ttl_s))
        await self._records.write(commands)
        assert self._channel is not None
        exchange = self._channel.default_exchange
        await asyncio.gather(
            *(exchange.publish(amqp_message(job), routing_key=self._queue_name) for job in taken)
        )
        return room

    async def _open(self) -> AbstractQueue:
        """The declared queue on an open confirming channel, connecting first if needed."""
        async with self._opening:
            channel = self._channel
            if self._queue is not None and channel is not None and not channel.is_closed:
                return self._queue
            await self._drop_connection()
            connection = await aio_pika.connect(self._url, timeout=self._timeout_s)
            self._connection = connection
            self._channel = await connection.channel(publisher_confirms=True)
            self._queue = await self._channel.declare_queue(
                self._queue_name, durable=True, arguments=self._arguments
            )
            return self._queue

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = None
        self._queue = None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), self._timeout_s)

    # The queue reader (see producer.backends.queues).

    async def _ready_count(self) -> int:
        try:
            queue = await self._open()
            return int((await queue.declare()).message_count or 0)
        except Exception as exc:
            await self._drop_connection()
            raise QueueUnreadable(f"RabbitMQ did not answer: {reason(exc)}") from exc

    async def _management_stats(self) -> dict[str, Any]:
        """The queue's statistics from the management API (``{}`` without one configured).

        They lag by up to the broker's statistics interval (a second in the local stack)."""
        if self._management_url is None or self._http is None:
            return {}
        try:
            async with self._http.get(self._management_url) as response:
                response.raise_for_status()
                stats: dict[str, Any] = await response.json()
                return stats
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise QueueUnreadable(f"the RabbitMQ management API did not answer: {exc}") from exc

    async def snapshot(self) -> QueueSnapshot:
        ready, stats = await asyncio.gather(self._ready_count(), self._management_stats())
        head = stats.get("head_message_timestamp")
        return QueueSnapshot(
            queued=ready,
            reserved=int(stats.get("messages_unacknowledged") or 0),
            # The statistics lag: an empty queue has no oldest message, whatever they say.
            oldest_enqueued_at=float(head) if ready and isinstance(head, int | float) else None,
        )

    async def depth(self) -> dict[str, int]:
        snapshot, finished = await asyncio.gather(
            self.snapshot(), self._redis.get(FINISHED_COUNTER_KEY)
        )
        return {
            "queued": snapshot.queued,
            "reserved": snapshot.reserved,
            "backlog": snapshot.backlog,
            "finished_total": int(finished or 0),
        }

    async def ping(self) -> None:
        await self._ready_count()
