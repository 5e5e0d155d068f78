"""A burst of B jobs on N workers drains in ceil(B/N) rounds of the service time S.

S is probed in the same run, on the same stack, with sequential jobs (as ``burstlab run``
does), so the checks hold on a loaded machine too: a slower machine has a larger S and a
proportionally longer drain. The exact figures belong to ``benchmarks/``; these tests check
the behaviour: both paths use every worker, drain as theory predicts from S, and drain alike,
while only the async one answers at once.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from burstlab.stack.local import LocalStack

BURST = 200
DURATION_MS = 100
WORKERS = 4
ROUNDS = math.ceil(BURST / WORKERS)
PROBES = 5
TOLERANCE = 0.25
"""How far a drain may be from ceil(B/N) x S, and the two paths' drains from each other."""


@dataclass(frozen=True)
class Burst:
    """What one burst of a mode showed: S probed just before, and every job's outcome."""

    service_s: float
    first_submit: float
    records: list[dict[str, Any]]
    statuses: list[int]
    replied_after_s: list[float]
    """Seconds from the first submit until each POST was answered."""

    @property
    def drain_s(self) -> float:
        """From the first submit the producer received until the last job finished."""
        first = min(r["timings"]["submitted_at"] for r in self.records)
        return float(max(r["timings"]["finished_at"] for r in self.records) - first)

    @property
    def predicted_s(self) -> float:
        return ROUNDS * self.service_s


def _job(mode: str) -> dict[str, Any]:
    return {"mode": mode, "kind": "io", "duration_ms": DURATION_MS}


async def _record(session: aiohttp.ClientSession, url: str, reply: dict[str, Any]) -> Any:
    if reply["mode"] == "sync":
        return reply
    async with session.get(f"{url}/jobs/{reply['job_id']}?wait=60") as response:
        return await response.json()


async def _probe_service_s(session: aiohttp.ClientSession, url: str, mode: str) -> float:
    """S: mean ``finished_at - enqueued_at`` of sequential jobs (run plus hand-over)."""
    spans = []
    for _ in range(PROBES):
        async with session.post(f"{url}/jobs", json=_job(mode)) as response:
            reply = await response.json()
        timings = (await _record(session, url, reply))["timings"]
        spans.append(timings["finished_at"] - timings["enqueued_at"])
    return statistics.fmean(spans)


async def _burst(url: str, mode: str) -> Burst:
    connector = aiohttp.TCPConnector(limit=BURST)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        service_s = await _probe_service_s(session, url, mode)
        first_submit = time.time()

        async def submit() -> tuple[int, dict[str, Any], float]:
            async with session.post(f"{url}/jobs", json=_job(mode)) as response:
                return response.status, dict(await response.json()), time.time() - first_submit

        replies = await asyncio.gather(*(submit() for _ in range(BURST)))
        # Long-poll the last job first (the queue is FIFO), then read the rest: the check
        # itself does not load the machine while the burst drains.
        await _record(session, url, replies[-1][1])
        records = await asyncio.gather(*(_record(session, url, body) for _, body, _ in replies))
    return Burst(
        service_s=service_s,
        first_submit=first_submit,
        records=records,
        statuses=[status for status, _, _ in replies],
        replied_after_s=[after for _, _, after in replies],
    )


@pytest.fixture(scope="module")
def bursts(stack: LocalStack) -> dict[str, Burst]:
    """One burst of 200 io jobs of 100 ms per mode, on the session's stack of 4 + 4 workers."""
    return {mode: asyncio.run(_burst(stack.producer_url, mode)) for mode in ("async", "sync")}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["async", "sync"])
def test_a_burst_of_200_jobs_on_4_workers_drains_in_50_rounds_of_the_probed_service_time(
    bursts: dict[str, Burst], mode: str
) -> None:
    burst = bursts[mode]
    # Then every job succeeded, exactly once, on all 4 worker processes
    assert burst.statuses == [202 if mode == "async" else 200] * BURST
    assert [r["status"] for r in burst.records] == ["succeeded"] * BURST
    assert all(r.get("attempts", 1) == 1 for r in burst.records)
    assert len({r["result"]["pid"] for r in burst.records}) == WORKERS
    assert min(r["timings"]["submitted_at"] for r in burst.records) >= burst.first_submit
    # And the burst took at least its 50 rounds of 100 ms, and at most 25 % more than
    # 50 rounds of the S probed just before it (theory: ceil(B/N) x S)
    drain, predicted = burst.drain_s, burst.predicted_s
    assert ROUNDS * DURATION_MS / 1000 <= drain <= predicted * (1 + TOLERANCE), (drain, predicted)
    print(f"\n{mode}: S {burst.service_s:.3f} s, drain {drain:.2f} s, theory {predicted:.2f} s")


@pytest.mark.slow
def test_async_and_sync_bursts_drain_alike_but_only_async_callers_are_answered_at_once(
    bursts: dict[str, Burst],
) -> None:
    sync, async_ = bursts["sync"], bursts["async"]
    # Then both paths, with the same number of workers, drain the same burst alike
    assert abs(async_.drain_s - sync.drain_s) <= TOLERANCE * max(async_.drain_s, sync.drain_s)
    # And every async job was accepted before half of the burst had run
    assert max(async_.replied_after_s) < async_.drain_s / 2, max(async_.replied_after_s)
    # While each sync caller waited for its job: latency grows with its place in the queue,
    # the first answered in the first rounds, the last only after all 50 rounds of 100 ms
    waits = sorted(sync.replied_after_s)
    assert waits[0] < waits[-1] / 2, (waits[0], waits[-1])
    assert waits[len(waits) // 2] > waits[-1] / 4, waits[len(waits) // 2]
    assert waits[-1] >= ROUNDS * DURATION_MS / 1000, waits[-1]
