"""Benchmark 4: what the metrics cost, with and without them, side by side.

Worker: BURST no-op jobs (io, 0 ms) drained by 4 Celery processes with metrics (multiprocess
mode) and with METRICS_ENABLED=0; throughput from the jobs' own timestamps. Producer: wrk
async submits against two producers on one Redis, one with metrics and one without,
interleaved. Goal for both ratios: >= 0.9.

Run: .venv/bin/python -m benchmarks.instrumentation_cost [ROUNDS] [BURST]
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import redis

from benchmarks.harness import (
    bench_stack,
    burstlab,
    interleaved,
    private_redis,
    ratio_line,
    services,
    wait_http,
    wrk,
)
from burstlab.client import ProducerClient
from burstlab.jobs.names import QUEUE_NAME
from burstlab.stack.ports import free_port

WORKERS = 4


async def drain_rate(url: str, burst: int) -> float:
    """Submit ``burst`` no-op async jobs at once; jobs per second from first start to last end."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        client = ProducerClient(url, session, timeout_s=300)
        replies = await asyncio.gather(*(client.submit("async", "io", 0) for _ in range(burst)))
        ids = [str(r["job_id"]) for r in replies]
        await client.wait(ids[-1])
        while True:
            records = list((await client.lookup(ids)).values())
            if all(r["status"] == "succeeded" for r in records):
                break
            await asyncio.sleep(0.5)
    starts = [r["timings"]["started_at"] for r in records]
    ends = [r["timings"]["finished_at"] for r in records]
    return burst / (max(ends) - min(starts))


def worker_rate(metrics: bool, burst: int) -> float:
    extra = {} if metrics else {"METRICS_ENABLED": "0"}
    with bench_stack(WORKERS, 1, **extra) as stack:
        asyncio.run(drain_rate(stack.producer_url, 50))  # warm up the pool
        return asyncio.run(drain_rate(stack.producer_url, burst))


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    burst = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    workers = interleaved(
        {"with": lambda: worker_rate(True, burst), "without": lambda: worker_rate(False, burst)},
        rounds,
    )
    with private_redis() as redis_url:
        on, off = free_port(), free_port()
        common = {"REDIS_URL": redis_url, "MAX_BACKLOG": "0", "BASELINE_URL": "http://127.0.0.1:9"}
        specs = [
            ("producer-on", burstlab("producer"), {**common, "PRODUCER_PORT": str(on)}),
            ("producer-off", burstlab("producer"),
             {**common, "PRODUCER_PORT": str(off), "METRICS_ENABLED": "0"}),
        ]  # fmt: skip
        with services(*specs):
            wait_http(f"http://127.0.0.1:{on}/healthz")
            wait_http(f"http://127.0.0.1:{off}/healthz")
            store = redis.Redis.from_url(redis_url)

            def empty() -> None:
                store.delete(QUEUE_NAME)
                for key in store.scan_iter("burstlab:job:*", count=10_000):
                    store.unlink(key)

            producers = interleaved(
                {
                    "with": lambda: wrk(f"http://127.0.0.1:{on}/jobs", seconds=4,
                                        connections=32).requests_per_s,
                    "without": lambda: wrk(f"http://127.0.0.1:{off}/jobs", seconds=4,
                                           connections=32).requests_per_s,
                },
                rounds,
                empty,
            )  # fmt: skip
    print(f"worker: {burst} no-op jobs on {WORKERS} processes, {rounds} interleaved rounds")
    print(f"  jobs/s with metrics {sorted(workers['with'])}, without {sorted(workers['without'])}")
    print("  " + ratio_line("worker with / without metrics", workers["with"],
                            workers["without"], 0.9))  # fmt: skip
    print(f"producer: wrk async submits, {rounds} interleaved rounds")
    print(
        f"  req/s with metrics {sorted(producers['with'])}, without {sorted(producers['without'])}"
    )
    print("  " + ratio_line("producer with / without metrics", producers["with"],
                            producers["without"], 0.9))  # fmt: skip


if __name__ == "__main__":
    main()
