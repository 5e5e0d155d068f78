"""The producer's view of job records in Redis: the commands that create them, and reads."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
import redis.asyncio as aioredis

from burstlab.jobs.names import FINISHED_COUNTER_KEY, UNACKED_KEY, job_key, priority_queue_names
from burstlab.jobs.record import RECORD_TTL_S, decode_record, encode_fields
from producer.metrics import QueueSnapshot
from producer.publisher import Command


def flat_fields(fields: dict[str, Any]) -> list[str]:
    """A record's fields encoded for HSET, as alternating names and values."""
    flat: list[str] = []
    for name, value in encode_fields(fields).items():
        flat.extend((name, value))
    return flat


def record_commands(job_id: str, fields: dict[str, Any]) -> list[Command]:
    """Return the commands that write a job's record and refresh its expiry."""
    key = job_key(job_id)
    return [("HSET", key, *flat_fields(fields)), ("EXPIRE", key, RECORD_TTL_S)]


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


def enqueued_at_of(message: bytes) -> float | None:
    """Return the ``enqueued_at`` of a queued Celery message, or ``None`` if it has none.

    Reads the producer's own messages (plain JSON body) and base64-encoded ones alike.
    """
    try:
        envelope = orjson.loads(message)
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        kwargs = orjson.loads(body)[1]
        value = kwargs["enqueued_at"]
    except (orjson.JSONDecodeError, binascii.Error, KeyError, IndexError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None


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
