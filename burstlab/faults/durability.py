"""What ``appendfsync always`` would cost: async submits under each Redis fsync policy.

With ``everysec`` (burstlab's choice) Redis writes every command to its append-only file
before it answers and fsyncs once a second: a crash of the Redis process loses nothing it
acknowledged (``broker-crash`` shows it), a crash of the whole machine up to a second.
``always`` fsyncs before answering, closing that second; Redis fsyncs once per event-loop
turn, so the producer's batched submits share one fsync. Two stacks run side by side and
take turns, so both see the same machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time

from burstlab.faults.report import FaultReport
from burstlab.faults.traffic import burst, job
from burstlab.stack.local import LocalStack, StackConfig

POLICIES = ("everysec", "always")
SUBMITS = 2000
SEQUENTIAL = 200
ROUNDS = 3


def _throughput(url: str) -> float:
    started = time.perf_counter()
    answers = asyncio.run(burst(url, job("async", 1), SUBMITS))
    elapsed = time.perf_counter() - started
    assert all(a.status == 202 for a in answers)
    return SUBMITS / elapsed


async def _sequential_ms(url: str) -> float:
    answers = [(await burst(url, job("async", 1), 1))[0] for _ in range(SEQUENTIAL)]
    return statistics.median(a.latency_s for a in answers) * 1000


def fsync_cost() -> FaultReport:
    """Async submit throughput (64 at a time) and sequential latency under each policy."""
    rates: dict[str, list[float]] = {p: [] for p in POLICIES}
    latency: dict[str, list[float]] = {p: [] for p in POLICIES}
    with contextlib.ExitStack() as stacks:
        urls = {
            policy: stacks.enter_context(
                LocalStack(
                    StackConfig(
                        workers=1,
                        baseline_workers=1,
                        redis_appendfsync=policy,
                        extra_env={"QUEUE_NAME": "fsync-cost"},  # no worker consumes it
                    )
                )
            ).producer_url
            for policy in POLICIES
        }
        for _ in range(ROUNDS):
            for policy in POLICIES:
                rates[policy].append(_throughput(urls[policy]))
                latency[policy].append(asyncio.run(_sequential_ms(urls[policy])))
    rate = {p: statistics.median(v) for p, v in rates.items()}
    p50 = {p: statistics.median(v) for p, v in latency.items()}
    return FaultReport(
        name="fsync-cost",
        fault="async submits under Redis appendfsync everysec vs always (same machine, in turns)",
        notes={
            "submits/s everysec/always": f"{rate['everysec']:.0f}/{rate['always']:.0f}",
            "one submit p50 ms everysec/always": f"{p50['everysec']:.2f}/{p50['always']:.2f}",
        },
    )
