"""Benchmark: the load generator's highest open-loop rate that keeps its schedule, beside wrk.

Starts the bare aiohttp 202 app (benchmarks/bare_app.py), measures wrk's closed-loop maximum
against it, then drives it with the open-loop generator at rising steady rates and finds the
highest rate whose send lag p99 stays under 5 ms with every reply a 202; wrk runs again at the
end, and the ratio of the generator's rate to the median wrk figure of this run is printed.
A rate that fails is tried once more (a single stall of a shared machine does not end the
ramp); the ramp ends at the first rate failed twice. Goal: >= 5,000 requests/s.

The generator runs at its own scheduling priority (SCHED_RR 1 where permitted, as in a run). By
default the app gets the same priority, so the benchmark measures the generator and not the
app's share of a busy machine: an app that falls behind fills every warm connection, and each
further send must open a connection (its lag then is the app's, up to a 1 s SYN retry when the
listen queue overflows). ``--app-priority normal`` leaves the app at normal priority, to see
that case; each step says which side fell behind, and what each used of a core.

Run: .venv/bin/python -m benchmarks.generator_capacity [SECONDS_PER_RATE] [--app-priority P]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass

import uvloop

from benchmarks.harness import services, wait_port, wrk
from burstlab.experiments.loadgen.generator import Progress, generate
from burstlab.experiments.loadgen.priority import (
    FALLBACK_NICE,
    REALTIME_PRIORITY,
    generator_priority,
)
from burstlab.experiments.model.stats import percentiles_ms
from burstlab.scenario.schedule import PlannedJob, Schedule
from burstlab.stack.ports import free_port

GOAL_RATE = 5000.0
LAG_P99_LIMIT_MS = 5.0
RATES = (1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7500.0, 10000.0, 12500.0, 15000.0,
         17500.0, 20000.0, 25000.0, 30000.0, 35000.0, 40000.0)  # fmt: skip
WRK_CONNECTIONS = 32
TRIES_PER_RATE = 2


@dataclass(frozen=True)
class Step:
    """One steady rate kept (or not) by the generator."""

    rate: float
    achieved: float
    lag_p99_ms: float
    non_202: int
    connections_opened: int
    generator_cpu_us: float
    """The generator's CPU time per request (its whole process, replies included)."""
    app_cpu_share: float | None
    """The app's CPU time over the step's wall time (1.0 = one core)."""

    @property
    def kept(self) -> bool:
        return self.lag_p99_ms < LAG_P99_LIMIT_MS and self.non_202 == 0

    def describe(self) -> str:
        app = "" if self.app_cpu_share is None else f", app {self.app_cpu_share:4.2f} core"
        line = (
            f"generator {self.rate:7.0f}/s: achieved {self.achieved:8.0f}/s, send lag p99 "
            f"{self.lag_p99_ms:8.2f} ms, non-202 {self.non_202}, generator CPU "
            f"{self.generator_cpu_us:5.1f} µs/request{app}: "
        )
        if self.kept:
            return line + "kept"
        if self.connections_opened:
            return line + (
                f"FELL BEHIND (the app: {self.connections_opened} sends found every warm "
                "connection busy and opened one)"
            )
        return line + "FELL BEHIND (the generator)"


def steady(rate: float, seconds: float) -> Schedule:
    count = int(rate * seconds)
    items = tuple(PlannedJob(offset_s=i / rate, kind="io", duration_ms=0) for i in range(count))
    return Schedule(items=items, duration_s=seconds)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (Linux), or None where /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_step(url: str, rate: float, seconds: float, app_pid: int) -> Step:
    """Send ``rate``/s for ``seconds`` and measure the step."""
    schedule = steady(rate, seconds)
    progress = Progress()
    app_before, cpu_before, wall_before = cpu_seconds(app_pid), time.process_time(), time.time()
    sends = await generate(url, "async", schedule, timeout_s=10, progress=progress)
    app_after, cpu_after, wall_after = cpu_seconds(app_pid), time.process_time(), time.time()
    lag_p99 = percentiles_ms([max(s.sent - s.intended, 0.0) for s in sends])["p99"] or 0.0
    sent = [s.sent for s in sends if s.sent]
    span = max(sent) - min(sent) if sent else 0.0
    app_share = None
    if app_before is not None and app_after is not None:
        app_share = (app_after - app_before) / (wall_after - wall_before)
    return Step(
        rate=rate,
        achieved=len(sends) / span if span > 0 else 0.0,
        lag_p99_ms=lag_p99,
        non_202=sum(1 for s in sends if s.status != 202),
        connections_opened=progress.connections_opened,
        generator_cpu_us=(cpu_after - cpu_before) / len(sends) * 1e6,
        app_cpu_share=app_share,
    )


def keeps(url: str, rate: float, seconds: float, app_pid: int) -> bool:
    """One try of ``rate`` at the generator's priority, printed; whether it was kept."""
    with generator_priority(), asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        step = runner.run(run_step(url, rate, seconds, app_pid))
    print(step.describe(), flush=True)
    return step.kept


def closed_loop_max(url: str, seconds: float) -> float:
    return wrk(f"{url}/jobs", seconds=seconds, connections=WRK_CONNECTIONS).requests_per_s


def describe_priority() -> str:
    with generator_priority() as priority:
        return priority


def raise_app_priority(pid: int) -> str:
    """Give process ``pid`` the generator's priority (SCHED_RR, else the nice fallback)."""
    try:
        os.sched_setscheduler(pid, os.SCHED_RR, os.sched_param(REALTIME_PRIORITY))
        return f"SCHED_RR {REALTIME_PRIORITY}"
    except OSError:
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, pid, FALLBACK_NICE)
        return f"nice {FALLBACK_NICE}"
    except OSError:
        return "normal (raising it was not permitted)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", nargs="?", type=float, default=3.0, help="seconds per rate")
    parser.add_argument(
        "--app-priority",
        choices=("generator", "normal"),
        default="generator",
        help="the bare app's scheduling: the generator's (default) or normal",
    )
    args = parser.parse_args()
    seconds: float = args.seconds
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "benchmarks/bare_app.py", str(port)]
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with services(("bare_app", argv, {})) as (app,):
        wait_port(port)
        app_pid = app.pid or 0
        app_priority = "normal"
        if args.app_priority == "generator":
            app_priority = raise_app_priority(app_pid)
        print(f"generator scheduling: {describe_priority()}; app scheduling: {app_priority}")
        wrk_rates = [closed_loop_max(url, seconds)]
        print(f"wrk closed loop (-c{WRK_CONNECTIONS}): {wrk_rates[0]:8.0f} requests/s", flush=True)
        best = 0.0
        for rate in RATES:
            if not any(keeps(url, rate, seconds, app_pid) for _ in range(TRIES_PER_RATE)):
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
