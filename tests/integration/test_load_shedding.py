"""Sync load shedding: beyond its in-flight limit, a sync job waits a bounded time, then 503."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from burstlab.stack.local import LocalStack
from producer.app import create_app
from producer.config import ProducerConfig

QUEUE_TIMEOUT_S = 0.5
SLOW = {"mode": "sync", "kind": "io", "duration_ms": 6000}
"""Long: a job shed at the wait bound (0.5 s) stands far from one shed when a slot frees (6 s),
even on a loaded machine."""
SHED_BY_S = QUEUE_TIMEOUT_S + 4.0


async def _timed(
    client: Any, body: dict[str, Any]
) -> tuple[int, dict[str, Any], float, str | None]:
    started = time.monotonic()
    response = await client.post("/jobs", json=body)
    return (
        response.status,
        await response.json(),
        time.monotonic() - started,
        response.headers.get("Retry-After"),
    )


async def test_sync_jobs_beyond_the_limit_wait_at_most_the_queue_timeout_then_get_503(
    aiohttp_client: Any, stack: LocalStack
) -> None:
    # Given a producer that forwards at most 2 sync jobs and lets others wait 0.5 s for a slot
    config = ProducerConfig(
        redis_url=stack.redis_url,
        baseline_url=stack.baseline_url,
        sync_max_inflight=2,
        sync_queue_timeout_s=QUEUE_TIMEOUT_S,
    )
    client = await aiohttp_client(create_app(config))
    # When 6 jobs of 6 s arrive together
    answers = await asyncio.gather(*(_timed(client, SLOW) for _ in range(6)))
    # Then 2 run, and 4 are shed with a JSON 503 "overloaded" and Retry-After after 0.5 s:
    # once the wait bound passed, not when a slot frees (6 s)
    ran = [a for a in answers if a[0] == 200]
    shed = [a for a in answers if a[0] == 503]
    assert len(ran) == 2 and len(shed) == 4
    assert all(body["error"] == "overloaded" and retry == "1" for _, body, _, retry in shed)
    assert all(QUEUE_TIMEOUT_S - 0.05 <= elapsed < SHED_BY_S for *_, elapsed, _ in shed)
    # And once a slot is free again, the next job runs
    assert (await _timed(client, {**SLOW, "duration_ms": 1}))[0] == 200


async def test_sync_jobs_within_the_wait_bound_queue_in_order_and_all_run(
    aiohttp_client: Any, stack: LocalStack
) -> None:
    # Given a producer that forwards at most 2 sync jobs and lets others wait up to 5 s
    config = ProducerConfig(
        redis_url=stack.redis_url,
        baseline_url=stack.baseline_url,
        sync_max_inflight=2,
        sync_queue_timeout_s=5,
    )
    client = await aiohttp_client(create_app(config))
    # When 8 jobs of 200 ms arrive together (4 rounds of 2: 0.8 s)
    answers = await asyncio.gather(
        *(_timed(client, {**SLOW, "duration_ms": 200}) for _ in range(8))
    )
    # Then none is shed: they ran two at a time
    assert [a[0] for a in answers] == [200] * 8
    assert max(a[2] for a in answers) >= 0.75
