"""A full async backlog answers 429 with Retry-After, and nothing beyond the limit is queued."""

from __future__ import annotations

from typing import Any

import redis

from producer.app import create_app
from producer.config import ProducerConfig

JOB = {"mode": "async", "kind": "io", "duration_ms": 1}


async def test_async_submits_beyond_the_backlog_limit_get_429_and_are_not_queued(
    aiohttp_client: Any, redis_url: str, closed_port: int
) -> None:
    # Given a producer whose queue may hold 5 jobs, on a Redis no worker consumes
    queue = "backlog-limit-test"
    client = await aiohttp_client(
        create_app(
            ProducerConfig(
                redis_url=redis_url,
                baseline_url=f"http://127.0.0.1:{closed_port}",
                queue=queue,
                max_backlog=5,
            )
        )
    )
    # When 8 jobs are submitted
    statuses, bodies = [], []
    for _ in range(8):
        response = await client.post("/jobs", json=JOB)
        statuses.append(response.status)
        bodies.append((await response.json(), response.headers.get("Retry-After")))
    # Then 5 are accepted and 3 refused with 429 and Retry-After, and exactly 5 are queued
    assert statuses == [202] * 5 + [429] * 3
    assert all(body["error"] == "backlog_full" and retry == "1" for body, retry in bodies[5:])
    store = redis.Redis.from_url(redis_url)
    assert store.llen(queue) == 5
    # And a refused job has no record: it was never accepted
    refused_ids = [body.get("job_id") for body, _ in bodies[5:]]
    assert refused_ids == [None] * 3
    # And once the queue drains below the limit, submits are accepted again
    store.rpop(queue)
    assert (await client.post("/jobs", json=JOB)).status == 202
    store.delete(queue)


async def test_the_publisher_recovers_when_redis_forgets_its_script(
    aiohttp_client: Any, redis_url: str, closed_port: int
) -> None:
    queue = "script-flush-test"
    client = await aiohttp_client(
        create_app(
            ProducerConfig(
                redis_url=redis_url, baseline_url=f"http://127.0.0.1:{closed_port}", queue=queue
            )
        )
    )
    assert (await client.post("/jobs", json=JOB)).status == 202
    store = redis.Redis.from_url(redis_url)
    # When Redis loses its scripts (as after a restart)
    store.script_flush()
    # Then the next submit still succeeds
    assert (await client.post("/jobs", json=JOB)).status == 202
    assert store.llen(queue) == 2
    store.delete(queue)
