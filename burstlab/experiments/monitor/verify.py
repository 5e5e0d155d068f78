"""A burst per mode on a monitored local stack, then Prometheus checked against jobs.csv.

The load goes out open loop through the experiments' generator and collector, so the rows
written to ``jobs.csv`` are the same ground truth ``burstlab run`` records: every job's intended,
sent, accepted, started and finished time. The dashboard's queries are then read back from the
stack's Prometheus at 1 s steps over the whole run and compared (:mod:`.checks`).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from burstlab.client import ProducerClient
from burstlab.dashboards.render import render_panels
from burstlab.experiments.loadgen.collect import collect_async, to_rows
from burstlab.experiments.loadgen.generator import client_session, generate
from burstlab.experiments.loadgen.phases import PhaseAnnouncer
from burstlab.experiments.model.records import JobRow, write_jobs_csv
from burstlab.experiments.monitor.checks import Bounds, Check, compare, observe, panel_queries
from burstlab.experiments.monitor.ground_truth import grid, rebuild
from burstlab.jobs.spec import MODES
from burstlab.scenario.schedule import PlannedJob, Schedule
from burstlab.stack.local import LocalStack, StackConfig
from burstlab.telemetry.prometheus_api import PrometheusClient

SCENARIO = "monitor-verify"
REQUEST_TIMEOUT_S = 180.0
DRAIN_TIMEOUT_S = 180.0
SETTLE_S = 3.0
"""After the windows close: a few more scrapes and rule evaluations, so the last values are in."""


@dataclass(frozen=True)
class VerifySettings:
    """Each mode in turn gets ``rate`` jobs/s of ``duration_ms`` io jobs for ``burst_s``."""

    workers: int = 4
    rate: float = 60.0
    burst_s: float = 15.0
    duration_ms: float = 100.0
    modes: tuple[str, ...] = MODES
    quiet_s: float = 3.0
    """Quiet time before each burst."""
    bounds: Bounds = field(default_factory=Bounds)

    def __post_init__(self) -> None:
        if self.workers < 1 or self.rate <= 0 or self.burst_s <= 0 or self.duration_ms < 0:
            raise ValueError("workers, rate and burst_s must be positive, duration_ms not negative")
        if not self.modes or set(self.modes) - set(MODES):
            raise ValueError(f"modes must be some of {', '.join(MODES)}")


@dataclass(frozen=True)
class VerifyResult:
    """The checks, the run's ground truth file and the time range queried."""

    checks: list[Check]
    jobs_csv: Path
    start: float
    end: float
    rows: int

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def steady_schedule(rate: float, seconds: float, duration_ms: float) -> Schedule:
    """``rate`` io jobs per second, evenly spaced, for ``seconds``: all of it burst traffic."""
    count = round(rate * seconds)
    items = tuple(PlannedJob(i / rate, "io", duration_ms, in_burst=True) for i in range(count))
    return Schedule(items=items, duration_s=seconds, burst_window=(0.0, seconds))


async def _burst(base_url: str, mode: str, settings: VerifySettings) -> list[JobRow]:
    """Send one mode's burst open loop, wait for every job, return its rows."""
    schedule = steady_schedule(settings.rate, settings.burst_s, settings.duration_ms)
    async with client_session() as session:
        client = ProducerClient(base_url, session)
        phases = PhaseAnnouncer(client, SCENARIO, mode, settings.workers)
        await phases.set("idle")
        await asyncio.sleep(settings.quiet_s)

        def on_start(epoch: float) -> None:
            phases.at(epoch, "burst")
            phases.at(epoch + settings.burst_s, "drain")

        try:
            sends = await generate(
                base_url, mode, schedule, timeout_s=REQUEST_TIMEOUT_S, on_start=on_start
            )
            records = {}
            if mode == "async":
                records = await collect_async(client, sends, drain_timeout_s=DRAIN_TIMEOUT_S)
            while (await client.queue())["backlog"]:
                await asyncio.sleep(0.2)
        finally:
            await phases.clear()
    return to_rows(mode, settings.workers, sends, records)


async def _drive(base_url: str, settings: VerifySettings, tail_s: float) -> list[JobRow]:
    rows: list[JobRow] = []
    for mode in settings.modes:
        rows.extend(await _burst(base_url, mode, settings))
    await asyncio.sleep(tail_s)
    return rows


def run_verify(
    out_dir: Path, settings: VerifySettings | None = None, *, png: Path | None = None
) -> VerifyResult:
    """Start a monitored stack, burst each mode, write ``jobs.csv``, compare Prometheus to it.

    With ``png``, also render the dashboard's key panels over the same range.
    """
    settings = settings or VerifySettings()
    queries = panel_queries()
    config = StackConfig(
        workers=settings.workers, baseline_workers=settings.workers, prometheus=True
    )
    with LocalStack(config) as local:
        assert local.prometheus_url is not None
        start = math.floor(time.time())
        rows = asyncio.run(_drive(local.producer_url, settings, queries.window_s + SETTLE_S))
        end = math.floor(time.time()) - 1.0
        times = grid(start, end)
        seen = observe(PrometheusClient(local.prometheus_url), queries, settings.modes, times)
        if png is not None:
            render_panels(local.prometheus_url, start, end, png)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs_csv = write_jobs_csv(out_dir / "jobs.csv", rows)
    checks: list[Check] = []
    for mode in settings.modes:
        truth = rebuild(rows, mode, times, queries.window_s)
        checks.extend(compare(mode, truth, seen[mode], settings.bounds))
    return VerifyResult(checks, jobs_csv, start, end, len(rows))
