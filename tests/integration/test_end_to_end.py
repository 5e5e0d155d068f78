"""Sync and async jobs through the real producer, baseline, Redis and Celery worker processes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from burstlab.stack.local import LocalStack

TIMING_ORDER = ("submitted_at", "enqueued_at", "started_at", "finished_at")


def assert_timings_in_order(timings: dict[str, float]) -> None:
    values = [timings[name] for name in TIMING_ORDER]
    assert all(isinstance(v, float) for v in values), timings
    assert values == sorted(values), timings


@pytest.fixture
async def session() -> Any:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_a_sync_job_returns_its_result_and_timings_in_order(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    # When a sync io job of 100 ms is submitted
    started = time.time()
    async with session.post(
        f"{stack.producer_url}/jobs", json={"mode": "sync", "kind": "io", "duration_ms": 100}
    ) as response:
        body = await response.json()
    # Then it answers 200 after the job ran, with its result and ordered timings
    assert response.status == 200
    assert body["status"] == "succeeded" and body["mode"] == "sync"
    assert body["result"]["kind"] == "io"
    assert_timings_in_order(body["timings"])
    service = body["timings"]["finished_at"] - body["timings"]["started_at"]
    assert 0.099 <= service < 0.5
    assert time.time() - started >= 0.1
    # And its record can be read back
    async with session.get(f"{stack.producer_url}/jobs/{body['job_id']}?wait=2") as response:
        record = await response.json()
    assert record["status"] == "succeeded" and record["mode"] == "sync"


async def test_an_async_job_is_accepted_at_once_and_a_worker_runs_it(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    # When an async io job of 300 ms is submitted
    async with session.post(
        f"{stack.producer_url}/jobs",
        json={"mode": "async", "kind": "io", "duration_ms": 300, "payload_bytes": 1000},
    ) as response:
        accepted = await response.json()
    answered_at = time.time()
    # Then it is answered 202 before the job could have run, with a status URL
    assert response.status == 202
    assert accepted["status"] == "queued"
    assert response.headers["Location"] == accepted["status_url"] == f"/jobs/{accepted['job_id']}"
    # And a real Celery worker runs it: the long poll returns the result and timings
    async with session.get(f"{stack.producer_url}{accepted['status_url']}?wait=10") as response:
        record = await response.json()
    assert record["status"] == "succeeded"
    assert record["result"]["payload_bytes"] == 1000
    assert record["attempts"] == 1
    assert_timings_in_order(record["timings"])
    service = record["timings"]["finished_at"] - record["timings"]["started_at"]
    assert 0.299 <= service < 1.0
    assert answered_at < record["timings"]["finished_at"]  # the 202 did not wait for the run


async def test_a_cpu_job_runs_in_both_modes(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    for mode in ("sync", "async"):
        async with session.post(
            f"{stack.producer_url}/jobs", json={"mode": mode, "kind": "cpu", "duration_ms": 50}
        ) as response:
            body = await response.json()
        if mode == "async":
            async with session.get(f"{stack.producer_url}/jobs/{body['job_id']}?wait=10") as r:
                body = await r.json()
        assert body["status"] == "succeeded"
        assert body["result"]["cpu_seconds"] >= body["result"]["duration_ms"] / 1000


async def test_status_moves_from_queued_to_running_to_succeeded_and_wait_returns_on_finish(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    # Given all 4 worker processes busy with 1.5 s jobs
    url = f"{stack.producer_url}/jobs"
    busy = [{"mode": "async", "kind": "io", "duration_ms": 1500}] * 4
    replies = await asyncio.gather(*(session.post(url, json=job) for job in busy))
    blockers = [(await r.json())["job_id"] for r in replies]
    for job_id in blockers:
        async with session.get(f"{url}/{job_id}?wait=0") as response:
            pass
    await asyncio.sleep(0.3)
    # When one more job is submitted, Then it waits in the queue
    async with session.post(url, json={"mode": "async", "kind": "io", "duration_ms": 200}) as r:
        job_id = (await r.json())["job_id"]
    async with session.get(f"{url}/{job_id}") as response:
        assert (await response.json())["status"] == "queued"
    # And a short wait on a blocker times out while it is still running
    waited = time.monotonic()
    async with session.get(f"{url}/{blockers[0]}?wait=0.3") as response:
        record = await response.json()
    # (still running: it returned at its own deadline, not when the 1.5 s job ended)
    assert record["status"] == "running"
    assert 0.29 <= time.monotonic() - waited < 1.0
    # And a long wait on the queued job returns soon after it finishes, not at the deadline
    async with session.get(f"{url}/{job_id}?wait=20") as response:
        record = await response.json()
    returned = time.time()
    assert record["status"] == "succeeded"
    assert returned - record["timings"]["finished_at"] < 0.5
    assert record["timings"]["started_at"] >= min(
        [
            (await (await session.get(f"{url}/{b}?wait=5")).json())["timings"]["finished_at"]
            for b in blockers
        ]
    )


async def test_health_and_readiness_answer_when_everything_is_up(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{stack.producer_url}/healthz") as response:
        assert response.status == 200
    async with session.get(f"{stack.producer_url}/readyz") as response:
        body = await response.json()
    assert response.status == 200
    assert body["checks"] == {"broker": "ok", "baseline": "ok"}


async def test_many_jobs_are_looked_up_in_one_request_and_unknown_ids_are_listed(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    url = f"{stack.producer_url}/jobs"
    replies = await asyncio.gather(
        *(
            session.post(url, json={"mode": "async", "kind": "io", "duration_ms": 1})
            for _ in range(5)
        )
    )
    ids = [(await r.json())["job_id"] for r in replies]
    async with session.get(f"{url}/{ids[-1]}?wait=10") as response:
        assert (await response.json())["status"] == "succeeded"
    async with session.post(f"{url}/lookup", json={"job_ids": [*ids, "nope"]}) as response:
        body = await response.json()
    assert response.status == 200
    assert sorted(job["job_id"] for job in body["jobs"]) == sorted(ids)
    assert body["missing"] == ["nope"]
    assert all(job["timings"]["enqueued_at"] is not None for job in body["jobs"])
    async with session.post(f"{url}/lookup", json={"job_ids": ["x"] * 1001}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "out_of_range"


async def test_the_queue_endpoint_counts_waiting_reserved_and_finished_jobs(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{stack.producer_url}/queue") as response:
        before = await response.json()
    assert response.status == 200
    # Given 4 busy workers and 3 more jobs behind them
    url = f"{stack.producer_url}/jobs"
    replies = await asyncio.gather(
        *(
            session.post(url, json={"mode": "async", "kind": "io", "duration_ms": 800})
            for _ in range(7)
        )
    )
    ids = [(await r.json())["job_id"] for r in replies]
    await asyncio.sleep(0.4)
    async with session.get(f"{stack.producer_url}/queue") as response:
        during = await response.json()
    # Then 3 wait in the list and 4 are reserved (running, unacknowledged)
    assert during["queued"] == 3
    assert during["reserved"] == 4
    assert during["backlog"] == 7
    for job_id in ids:
        async with session.get(f"{url}/{job_id}?wait=10") as response:
            assert (await response.json())["status"] == "succeeded"
    await asyncio.sleep(0.2)
    async with session.get(f"{stack.producer_url}/queue") as response:
        after = await response.json()
    assert after["backlog"] == 0
    assert after["finished_total"] - before["finished_total"] == 7
