"""Benchmark 3: pipeline efficiency. io jobs of 50 ms at concurrency 8, sync and async.

Starts a stack with 8 Celery worker processes and 8 gunicorn sync workers, submits BURST jobs
at once in each mode, and divides the measured throughput (jobs / (last finish - first
start), from the jobs' own timestamps) by the ideal 8 / 0.05 s = 160 jobs/s. Goal >= 0.95.

Run: .venv/bin/python -m benchmarks.pipeline_efficiency [ROUNDS] [BURST]
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import sys
from typing import Any

import aiohttp

from benchmarks.harness import bench_stack
from burstlab.client import ProducerClient

CONCURRENCY = 8
DURATION_MS = 50
IDEAL = CONCURRENCY / (DURATION_MS / 1000)
GOAL = 0.95


async def _burst(url: str, mode: str, burst: int) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        client = ProducerClient(url, session, timeout_s=300)
        submits = (client.submit(mode, "io", DURATION_MS) for _ in range(burst))
        replies = list(await asyncio.gather(*submits))
        if mode == "async":
            ids = [r["job_id"] for r in replies]
            await client.wait(ids[-1])
            replies = list((await client.lookup(ids)).values())
            while any(r["status"] != "succeeded" for r in replies):
                await asyncio.sleep(0.5)
                replies = list((await client.lookup(ids)).values())
    assert all(r["status"] == "succeeded" for r in replies), replies[:3]
    starts = [r["timings"]["started_at"] for r in replies]
    ends = [r["timings"]["finished_at"] for r in replies]
    GAPS.setdefault(mode, []).extend(_handover_gaps(replies))
    return burst / (max(ends) - min(starts))


GAPS: dict[str, list[float]] = {}
"""Per mode: time from one job's end to the next job's start on the same process."""


def _handover_gaps(replies: list[dict[str, Any]]) -> list[float]:
    by_pid: dict[int, list[tuple[float, float]]] = {}
    for r in replies:
        t = r["timings"]
        by_pid.setdefault(r["result"]["pid"], []).append((t["started_at"], t["finished_at"]))
    gaps: list[float] = []
    for runs in by_pid.values():
        runs.sort()
        gaps.extend(b[0] - a[1] for a, b in itertools.pairwise(runs))
    return gaps


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    burst = int(sys.argv[2]) if len(sys.argv) > 2 else 800
    results: dict[str, list[float]] = {"sync": [], "async": []}
    with bench_stack(CONCURRENCY, CONCURRENCY) as stack:
        for _ in range(rounds):
            for mode in ("sync", "async"):
                results[mode].append(asyncio.run(_burst(stack.producer_url, mode, burst)))
    print(
        f"{burst} io jobs of {DURATION_MS} ms at once, concurrency {CONCURRENCY}, "
        f"ideal {IDEAL:.0f} jobs/s, {rounds} interleaved rounds"
    )
    for mode, values in results.items():
        median = statistics.median(values)
        efficiency = median / IDEAL
        verdict = "met" if efficiency >= GOAL else "MISSED"
        rounds_text = ", ".join(f"{v / IDEAL:.3f}" for v in values)
        print(
            f"{mode:5s} throughput median {median:6.1f} jobs/s: efficiency {efficiency:.3f} "
            f"(rounds: {rounds_text}); goal >= {GOAL}: {verdict}"
        )


if __name__ == "__main__":
    main()
