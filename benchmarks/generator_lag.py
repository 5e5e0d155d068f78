"""Benchmark: does the open-loop generator keep its schedule at 1,000 requests/s?

Starts a local stack (4 Celery workers, 4 gunicorn workers) on this machine, then sends async
jobs at a steady 1,000 requests/s for DURATION seconds, with the stack running beside the
generator on the same cores, and prints the send lag (actual - intended send) percentiles.
Goal: p99 under 5 ms. Run: .venv/bin/python benchmarks/generator_lag.py [RATE] [DURATION]
"""

from __future__ import annotations

import asyncio
import sys
import time

from burstlab.experiments.loadgen.generator import Progress, generate
from burstlab.experiments.model.stats import percentiles_ms
from burstlab.scenario.schedule import PlannedJob, Schedule
from burstlab.stack.local import LocalStack, StackConfig

GOAL_P99_MS = 5.0
JOB_MS = 50.0
"""The jobs queue up behind 4 workers (80/s); the stack runs but does not saturate the CPU."""


def steady(rate: float, duration_s: float) -> Schedule:
    count = int(rate * duration_s)
    items = tuple(
        PlannedJob(offset_s=i / rate, kind="io", duration_ms=JOB_MS) for i in range(count)
    )
    return Schedule(items=items, duration_s=duration_s)


async def measure(url: str, rate: float, duration_s: float) -> None:
    schedule = steady(rate, duration_s)
    progress = Progress()
    started = time.monotonic()
    sends = await generate(url, "async", schedule, timeout_s=30, progress=progress)
    elapsed = time.monotonic() - started
    lags = [max(s.sent - s.intended, 0.0) for s in sends]
    stats = percentiles_ms(lags)
    answered = [s for s in sends if s.status == 202]
    accept = percentiles_ms([s.answered - s.intended for s in answered if s.answered])
    achieved = len(sends) / (max(s.sent for s in sends) - min(s.sent for s in sends))
    print(
        f"offered {rate:.0f}/s for {duration_s:.0f} s: {len(sends)} requests, "
        f"{len(answered)} accepted (202), elapsed {elapsed:.1f} s"
    )
    print(f"achieved send rate      {achieved:8.1f} /s  (ratio to planned {achieved / rate:.3f})")
    verdict = "met" if (stats["p99"] or 0) < GOAL_P99_MS else "MISSED"
    print(
        f"send lag p50/p99/max ms {stats['p50']:8.2f} {stats['p99']:8.2f} {stats['max']:8.2f}"
        f"   goal p99 < {GOAL_P99_MS} ms: {verdict}"
    )
    print(f"accept latency p50/p99  {accept['p50']:8.2f} {accept['p99']:8.2f} ms")


def main() -> None:
    rate = float(sys.argv[1]) if len(sys.argv) > 1 else 1000.0
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    with LocalStack(StackConfig(workers=4, baseline_workers=4)) as stack:
        asyncio.run(measure(stack.producer_url, rate, duration))


if __name__ == "__main__":
    main()
