"""The producer's view of job records in Redis: the commands that create them, and reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis

from burstlab.jobs.names import FINISHED_COUNTER_KEY, UNACKED_KEY, job_key, priority_queue_names
from burstlab.jobs.record import RECORD_TTL_S, decode_record, flat
from burstlab.jobs.task_message import enqueued_at_of
from producer.backends.publisher import Command
from producer.backends.snapshot import QueueSnapshot


def record_commands(job_id: str, fields: Mapping[str, str]) -> list[Command]:
    """Return the commands that write a job's record fields and refresh its expiry."""
    key = job_key(job_id)
    return [("HSET", key, *flat(fields)), ("EXPIRE", key, RECORD_TTL_S)]


async def read_record(client: aioredis.Redis, job_id: str) -> dict[str, Any] | None:
    """Return the decoded record of ``job_id``, or ``None`` if there is none."""
    raw = await client.hgetall(job_key(job_id))
    return decode_record(raw) if raw else None


async def read_records(
    client: aioredis.Redis, job_ids: list[str]
) -> dict[str, dict[str, Any] | None]:
    """Return the decoded records of ``job_ids`` (``None`` where missing), in one round trip."""
    pipe = client.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hgetall(job_key(job_id))
    replies = await pipe.execute()
    return {
        job_id: decode_record(raw) if raw else None
        for job_id, raw in zip(job_ids, replies, strict=True)
    }


async def queue_depth(client: aioredis.Redis, queue: str) -> dict[str, int]:
    """Jobs waiting in the queue (every priority sub-queue), reserved by workers, and finished.

    ``reserved`` counts delivered but unacknowledged messages (prefetched or running: with late
    acks a message is acknowledged when its job ends); ``backlog`` is queued + reserved.
    """
    pipe = client.pipeline(transaction=False)
    for name in priority_queue_names(queue):
        pipe.llen(name)
    pipe.hlen(UNACKED_KEY)
    pipe.get(FINISHED_COUNTER_KEY)
    *lengths, reserved, finished = await pipe.execute()
    queued = int(sum(lengths))
    return {
        "queued": queued,
        "reserved": int(reserved),
        "backlog": queued + int(reserved),
        "finished_total": int(finished or 0),
    }


async def queue_snapshot(client: aioredis.Redis, queue: str) -> QueueSnapshot:
    """Read the backlog and the oldest queued job in one round trip (for a scrape).

    kombu pushes on the left and pops on the right, so each sub-queue's oldest message is its
    last element. MULTI makes the reads one consistent view.
    """
    names = priority_queue_names(queue)
    pipe = client.pipeline(transaction=True)
    for name in names:
        pipe.llen(name)
    pipe.hlen(UNACKED_KEY)
    for name in names:
        pipe.lindex(name, -1)
    replies = await pipe.execute()
    lengths, reserved, tails = replies[: len(names)], replies[len(names)], replies[len(names) + 1 :]
    times = [t for t in (enqueued_at_of(tail) for tail in tails if tail) if t is not None]
    return QueueSnapshot(
        queued=int(sum(lengths)),
        reserved=int(reserved),
        oldest_enqueued_at=min(times) if times else None,
    )
