"""The sync side's queue: callers waiting for a forwarding slot are counted beside those in flight."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from burstlab.stack.local import LocalStack
from producer import keys
from producer.app import create_app
from producer.config import ProducerConfig

SLOTS = 2
CALLERS = 8
JOB = {"mode": "sync", "kind": "io", "duration_ms": 1500}


def _sample(app: Any, name: str, **labels: str) -> float:
    value = app[keys.METRICS].registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def _until(check: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_a_sync_burst_beyond_the_slots_shows_its_callers_as_waiting_plus_in_flight(
    aiohttp_client: Any, stack: LocalStack
) -> None:
    # Given a producer that forwards at most 2 sync jobs and lets the others wait for a slot
    config = ProducerConfig(
        redis_url=stack.redis_url,
        baseline_url=stack.baseline_url,
        sync_max_inflight=SLOTS,
        sync_queue_timeout_s=60,
    )
    client = await aiohttp_client(create_app(config))
    app = client.server.app
    # When 8 sync jobs of 1.5 s arrive together
    calls = [asyncio.ensure_future(client.post("/jobs", json=JOB)) for _ in range(CALLERS)]
    arrived = await _until(
        lambda: _sample(app, "burstlab_jobs_submitted_total", mode="sync") == CALLERS, 30
    )
    assert arrived, "the 8 submissions did not all arrive"
    # Then every caller is offered load as soon as it arrives, long before it is answered,
    # and is counted either waiting for a slot, in flight or (on a slow machine) completed
    waiting = _sample(app, "burstlab_sync_requests_waiting")
    in_flight = _sample(app, "burstlab_sync_requests_in_flight")
    completed = _sample(app, "burstlab_jobs_completed_total", mode="sync", outcome="succeeded")
    assert waiting + in_flight + completed == CALLERS
    assert waiting > 0 and in_flight <= SLOTS
    # And GET /queue shows the same sync backlog, waiting + in flight
    response = await client.get("/queue")
    sync = (await response.json())["sync"]
    assert sync["backlog"] == sync["waiting"] + sync["in_flight"]
    assert sync["waiting"] > 0 and sync["in_flight"] <= SLOTS
    completed_since = _sample(
        app, "burstlab_jobs_completed_total", mode="sync", outcome="succeeded"
    )
    assert CALLERS - completed_since <= sync["backlog"] <= CALLERS
    # And once every job has run, neither gauge holds a caller any more
    answers = await asyncio.gather(*calls)
    for answer in answers:
        await answer.read()  # release every connection before the app shuts down
    assert [a.status for a in answers] == [200] * CALLERS
    assert _sample(app, "burstlab_sync_requests_waiting") == 0
    assert _sample(app, "burstlab_sync_requests_in_flight") == 0
    assert (await (await client.get("/queue")).json())["sync"] == {
        "waiting": 0,
        "in_flight": 0,
        "backlog": 0,
    }


async def test_a_sync_caller_shed_after_the_wait_bound_is_no_longer_counted_waiting(
    aiohttp_client: Any, stack: LocalStack
) -> None:
    # Given a producer with one slot that lets others wait 0.3 s
    config = ProducerConfig(
        redis_url=stack.redis_url,
        baseline_url=stack.baseline_url,
        sync_max_inflight=1,
        sync_queue_timeout_s=0.3,
    )
    client = await aiohttp_client(create_app(config))
    app = client.server.app
    # When 3 jobs of 1.5 s arrive together, two of them beyond the slot
    answers = await asyncio.gather(*(client.post("/jobs", json=JOB) for _ in range(3)))
    # Then the two are shed with 503, and the waiting gauge is back to zero
    assert sorted(a.status for a in answers) == [200, 503, 503]
    assert _sample(app, "burstlab_sync_requests_waiting") == 0
    assert _sample(app, "burstlab_jobs_rejected_total", mode="sync", reason="overloaded") == 2
