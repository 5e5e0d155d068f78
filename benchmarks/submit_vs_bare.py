"""Benchmark 1 and 2: async submit throughput against a bare aiohttp 202 handler, and loop lag.

Starts a private Redis, the producer (no workers: jobs stay queued; the queue is emptied
between runs) and a bare aiohttp app that only answers 202, then runs wrk (1 thread,
32 connections, the same JSON body) against each in turn, interleaved, and prints the ratio of
requests per second (goal >= 0.8) and the producer's event-loop lag p99 while it was loaded
(goal < 5 ms), read from its own metrics.

Run: .venv/bin/python benchmarks/submit_vs_bare.py [ROUNDS] [SECONDS]
"""

from __future__ import annotations

import re
import statistics
import sys
import time
import urllib.request

import redis

from benchmarks.harness import (
    burstlab,
    interleaved,
    private_redis,
    ratio_line,
    services,
    wait_http,
    wait_port,
    wrk,
)
from burstlab.jobs.names import QUEUE_NAME
from burstlab.stack.ports import free_port

CONNECTIONS = 32


def loop_lag_p99_ms(metrics_url: str) -> float | None:
    """The p99 of burstlab_event_loop_lag_seconds from the histogram buckets (upper bound)."""
    text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    buckets = [
        (float(le), float(count))
        for le, count in re.findall(
            r'burstlab_event_loop_lag_seconds_bucket\{le="([^"]+)"\} ([\d.e+]+)', text
        )
        if le != "+Inf"
    ]
    total = re.search(r"burstlab_event_loop_lag_seconds_count ([\d.e+]+)", text)
    if not buckets or not total or float(total.group(1)) == 0:
        return None
    target = 0.99 * float(total.group(1))
    for le, count in sorted(buckets):
        if count >= target:
            return le * 1000
    return float("inf")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5
    producer_port, bare_port = free_port(), free_port()
    with private_redis() as redis_url:
        env = {"REDIS_URL": redis_url, "PRODUCER_PORT": str(producer_port), "MAX_BACKLOG": "0",
               "BASELINE_URL": "http://127.0.0.1:9", "LOG_LEVEL": "WARNING"}  # fmt: skip
        specs = [
            ("producer", burstlab("producer"), env),
            ("bare", [sys.executable, "benchmarks/bare_app.py", str(bare_port)], {}),
        ]
        with services(*specs):
            wait_http(f"http://127.0.0.1:{producer_port}/healthz")
            wait_port(bare_port)
            store = redis.Redis.from_url(redis_url)

            def producer() -> float:
                result = wrk(f"http://127.0.0.1:{producer_port}/jobs", seconds=seconds,
                             connections=CONNECTIONS)  # fmt: skip
                assert result.non_2xx == 0 and result.errors == 0, result
                return result.requests_per_s

            def bare() -> float:
                return wrk(f"http://127.0.0.1:{bare_port}/jobs", seconds=seconds,
                           connections=CONNECTIONS).requests_per_s  # fmt: skip

            def empty_queue() -> None:
                store.delete(QUEUE_NAME)
                for key in store.scan_iter("burstlab:job:*", count=10_000):
                    store.unlink(key)

            time.sleep(1.0)
            values = interleaved({"bare": bare, "producer": producer}, rounds, empty_queue)
            lag = loop_lag_p99_ms(f"http://127.0.0.1:{producer_port}/metrics")
    print(f"wrk -t1 -c{CONNECTIONS} -d{seconds:g}s, {rounds} interleaved rounds")
    print(f"bare aiohttp 202   median {statistics.median(values['bare']):9.0f} req/s")
    print(f"producer async     median {statistics.median(values['producer']):9.0f} req/s")
    print(ratio_line("async submit / bare", values["producer"], values["bare"], 0.8))
    print(f"producer event-loop lag p99 over the whole run: <= {lag:.1f} ms (goal < 5 ms)")


if __name__ == "__main__":
    main()
