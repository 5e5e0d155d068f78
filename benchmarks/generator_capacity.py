"""Benchmark: the load generator's highest open-loop rate that keeps its schedule, beside wrk.

Starts the bare aiohttp 202 app (benchmarks/bare_app.py), measures wrk's closed-loop maximum
against it, then drives it with the open-loop generator at rising steady rates and finds the
highest rate whose send lag p99 stays under 5 ms; wrk runs again at the end, and the ratio of the
generator's rate to the median wrk figure of this run is printed. Goal: >= 5,000 requests/s.
Run: .venv/bin/python -m benchmarks.generator_capacity [SECONDS_PER_RATE]
"""

from __future__ import annotations

import asyncio
import statistics
import sys

import uvloop

from benchmarks.harness import services, wait_port, wrk
from burstlab.experiments.loadgen import generate
from burstlab.experiments.priority import generator_priority
from burstlab.experiments.schedule import PlannedJob, Schedule
from burstlab.experiments.stats import percentiles_ms
from burstlab.stack.ports import free_port

GOAL_RATE = 5000.0
LAG_P99_LIMIT_MS = 5.0
RATES = (1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7500.0, 10000.0, 12500.0, 15000.0)
WRK_CONNECTIONS = 32


def steady(rate: float, seconds: float) -> Schedule:
    count = int(rate * seconds)
    items = tuple(PlannedJob(offset_s=i / rate, kind="io", duration_ms=0) for i in range(count))
    return Schedule(items=items, duration_s=seconds)


async def lag_at(url: str, rate: float, seconds: float) -> tuple[float, float, int]:
    """Send ``rate``/s for ``seconds``; return send lag p99 (ms), achieved rate, non-202 count."""
    sends = await generate(url, "async", steady(rate, seconds), timeout_s=30)
    lag_p99 = percentiles_ms([max(s.sent - s.intended, 0.0) for s in sends])["p99"] or 0.0
    span = max(s.sent for s in sends) - min(s.sent for s in sends)
    bad = sum(1 for s in sends if s.status != 202)
    return lag_p99, len(sends) / span if span > 0 else 0.0, bad


def closed_loop_max(url: str, seconds: float) -> float:
    return wrk(f"{url}/jobs", seconds=seconds, connections=WRK_CONNECTIONS).requests_per_s


def describe_priority() -> str:
    with generator_priority() as priority:
        return priority


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "benchmarks/bare_app.py", str(port)]
    with services(("bare_app", argv, {})):
        wait_port(port)
        wrk_rates = [closed_loop_max(url, seconds)]
        print(f"wrk closed loop (-c{WRK_CONNECTIONS}): {wrk_rates[0]:8.0f} requests/s")
        print(f"generator scheduling: {describe_priority()}")
        best = 0.0
        for rate in RATES:
            with (
                generator_priority(),
                asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
            ):
                lag_p99, achieved, bad = runner.run(lag_at(url, rate, seconds))
            kept = lag_p99 < LAG_P99_LIMIT_MS and bad == 0
            print(
                f"generator {rate:7.0f}/s: achieved {achieved:8.0f}/s, send lag p99 "
                f"{lag_p99:7.2f} ms, non-202 {bad}: {'kept' if kept else 'FELL BEHIND'}"
            )
            if not kept:
                break
            best = rate
        wrk_rates.append(closed_loop_max(url, seconds))
        print(f"wrk closed loop (-c{WRK_CONNECTIONS}): {wrk_rates[1]:8.0f} requests/s")
    wrk_median = statistics.median(wrk_rates)
    verdict = "met" if best >= GOAL_RATE else "MISSED"
    print(
        f"generator max open-loop rate with lag p99 < {LAG_P99_LIMIT_MS:g} ms: {best:.0f}/s "
        f"(goal >= {GOAL_RATE:.0f}/s: {verdict}); ratio to wrk's closed-loop max "
        f"{wrk_median:.0f}/s: {best / wrk_median:.2f}"
    )


if __name__ == "__main__":
    main()
