"""With 4 workers, a burst of 200 io jobs of 100 ms drains in about 200 × 0.1 s / 4 = 5 s."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from burstlab.client import ProducerClient
from burstlab.stack.local import LocalStack

BURST = 200
DURATION_MS = 100
WORKERS = 4
THEORY_S = BURST * DURATION_MS / 1000 / WORKERS
BOUND_S = THEORY_S * 1.12  # 5.6 s: per-job overhead on a shared 2-core machine


@pytest.mark.slow
async def test_200_async_jobs_on_4_workers_all_finish_within_5_6_s_of_the_first_submit(
    stack: LocalStack,
) -> None:
    job = {"mode": "async", "kind": "io", "duration_ms": DURATION_MS}
    connector = aiohttp.TCPConnector(limit=BURST)
    async with aiohttp.ClientSession(connector=connector) as session:
        # When 200 async jobs are submitted together
        first_submit = time.time()

        async def submit() -> dict[str, Any]:
            async with session.post(f"{stack.producer_url}/jobs", json=job) as response:
                assert response.status == 202
                return dict(await response.json())

        accepted = await asyncio.gather(*(submit() for _ in range(BURST)))
        accepted_by = time.time() - first_submit

        async def finished(job_id: str) -> dict[str, Any]:
            return await ProducerClient(stack.producer_url, session).get_job(job_id, wait_s=30)

        # Long-poll the last job only (the queue is FIFO), then read the rest: the check
        # itself does not load the 2-core machine while the burst drains.
        await finished(accepted[-1]["job_id"])
        records = await asyncio.gather(*(finished(a["job_id"]) for a in accepted))
    # Then all were accepted long before they ran, every one succeeded, exactly once,
    assert accepted_by < 2.0
    assert [r["status"] for r in records] == ["succeeded"] * BURST
    assert all(r["attempts"] == 1 for r in records)
    # and the last finished within 5.6 s of the first submit the producer received (theory: 5 s)
    first = min(r["timings"]["submitted_at"] for r in records)
    last = max(r["timings"]["finished_at"] for r in records)
    assert first >= first_submit
    assert THEORY_S * 0.95 <= last - first <= BOUND_S, last - first
    # using all 4 worker processes
    assert len({r["result"]["pid"] for r in records}) == WORKERS


@pytest.mark.slow
async def test_200_sync_jobs_on_4_gunicorn_workers_all_finish_within_5_6_s(
    stack: LocalStack,
) -> None:
    job = {"mode": "sync", "kind": "io", "duration_ms": DURATION_MS}
    connector = aiohttp.TCPConnector(limit=BURST)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        first_submit = time.time()

        async def submit() -> tuple[int, dict[str, Any], float]:
            async with session.post(f"{stack.producer_url}/jobs", json=job) as response:
                return response.status, dict(await response.json()), time.time()

        replies = await asyncio.gather(*(submit() for _ in range(BURST)))
    assert [status for status, _, _ in replies] == [200] * BURST
    last_reply = max(at for _, _, at in replies)
    assert THEORY_S * 0.95 <= last_reply - first_submit <= BOUND_S, last_reply - first_submit
    assert len({body["result"]["pid"] for _, body, _ in replies}) == WORKERS
    # The sync client waited: its latency grows with its place in the queue
    latencies = sorted(at - first_submit for _, _, at in replies)
    assert latencies[0] < 0.5 and latencies[-1] > THEORY_S * 0.9
