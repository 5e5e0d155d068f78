"""The producer's view of job records in Redis: the commands that create them, and reads."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from jobs.names import job_key
from jobs.record import RECORD_TTL_S, decode_record, encode_fields
from producer.publisher import Command


def record_commands(job_id: str, fields: dict[str, Any]) -> list[Command]:
    """Return the commands that write a job's record and refresh its expiry."""
    key = job_key(job_id)
    flat: list[str] = []
    for name, value in encode_fields(fields).items():
        flat.extend((name, value))
    return [("HSET", key, *flat), ("EXPIRE", key, RECORD_TTL_S)]


async def read_record(client: aioredis.Redis, job_id: str) -> dict[str, Any] | None:
    """Return the decoded record of ``job_id``, or ``None`` if there is none."""
    raw = await client.hgetall(job_key(job_id))
    return decode_record(raw) if raw else None
