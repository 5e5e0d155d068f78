"""Run a scenario: for each worker count, start a stack (or use a target), drive each mode, report.

For every (workers, mode) run the runner first measures the unloaded service time S with a few
sequential probe jobs, then sends the scenario's schedule open loop, collects every job's
timings, and summarizes the run beside the queueing-theory prediction for N workers and S.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

from burstlab.client import ProducerClient
from burstlab.experiments.capacity import sweep_summary
from burstlab.experiments.collect import collect_async, to_rows
from burstlab.experiments.cpu_idle import shallow_idle
from burstlab.experiments.duration_run import is_duration_sweep, run_duration_sweep
from burstlab.experiments.duration_steps import crossover_section, crossover_sentences
from burstlab.experiments.histograms import HISTOGRAMS_FILE, write_histograms
from burstlab.experiments.loadgen import Progress, client_session, generate
from burstlab.experiments.phases import PhaseAnnouncer
from burstlab.experiments.priority import generator_priority
from burstlab.experiments.progress import ProgressDisplay
from burstlab.experiments.records import JobRow, write_jobs_csv
from burstlab.experiments.report import write_report
from burstlab.experiments.scenario import Scenario
from burstlab.experiments.schedule import Schedule, build_schedule
from burstlab.experiments.shard import Shard
from burstlab.experiments.stats import encoded_histograms, summarize_run
from burstlab.experiments.sweep_run import ServiceProbe, is_sweep, run_sweep_mode
from burstlab.experiments.sweep_spec import DurationSweepArrival
from burstlab.experiments.theory import theory_inputs
from burstlab.experiments.thresholds import ThresholdCheck, all_passed, check_thresholds
from burstlab.jobs.record import extra_deliveries
from burstlab.telemetry.environment import machine, versions

PROBES_PER_JOB = 5
"""Sequential probe jobs per job-mix entry used to measure the unloaded service time S."""


@dataclass(frozen=True)
class Target:
    """A running stack to drive: the producer's URL and, if known, the worker replicas running."""

    url: str
    replicas: int | None = None


StackFactory = Callable[[int], contextlib.AbstractContextManager[Target]]
"""Given a worker count, a context manager that yields a running stack with that many workers."""


@dataclass(frozen=True)
class RunPlan:
    """What to run: a scenario, its modes and worker counts, where to write the results."""

    scenario: Scenario
    modes: tuple[str, ...]
    workers: tuple[int, ...]
    out_dir: Path
    seed: int
    target: str | None = None
    broker: str = "redis"
    """The broker of the local stacks the plan starts (``redis`` or ``rabbitmq``)."""
    shard: Shard | None = None
    start_at: float | None = None


@dataclass
class ExperimentResult:
    """Everything a run produced."""

    out_dir: Path
    summary: dict[str, Any]
    rows: list[JobRow] = field(default_factory=list)
    checks: list[ThresholdCheck] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all_passed(self.checks)


def default_out_dir(scenario: Scenario, root: Path = Path("results")) -> Path:
    """``results/<UTC timestamp>-<scenario>/``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return root / f"{stamp}-{scenario.name}"


@contextlib.contextmanager
def local_stack(workers: int, broker: str = "redis") -> Iterator[Target]:
    """A fresh local stack with ``workers`` Celery processes and as many gunicorn workers,
    its async queue on ``broker``."""
    from burstlab.stack.local import LocalStack, StackConfig

    config = StackConfig(workers=workers, baseline_workers=workers, broker=broker)
    with LocalStack(config) as running:
        yield Target(running.producer_url)


@contextlib.contextmanager
def existing_target(url: str) -> Iterator[Target]:
    """A stack that is already running (``--target``): nothing to start or stop."""
    yield Target(url)


async def measure_service_time(
    client: ProducerClient, mode: str, scenario: Scenario
) -> dict[str, float]:
    """Unloaded service time S of ``mode``: sequential probes of each job-mix entry at its mean.

    S is the mean of ``finished_at - enqueued_at``: the job's run plus the hop that hands it to
    a free worker (broker fetch or HTTP accept), the per-job cost a saturated worker also pays.
    """
    total_weight = sum(job.weight for job in scenario.jobs)
    weighted = pure = 0.0
    for job in scenario.jobs:
        hops, runs = [], []
        for _ in range(PROBES_PER_JOB):
            reply = await client.run(mode, job.kind, job.duration_ms)
            t = reply["timings"]
            hops.append(t["finished_at"] - t["enqueued_at"])
            runs.append(t["finished_at"] - t["started_at"])
        weighted += job.weight * statistics.fmean(hops)
        pure += job.weight * statistics.fmean(runs)
    return {"service_s": weighted / total_weight, "run_only_s": pure / total_weight}


def theory_service(
    scenario: Scenario, schedule: Schedule, workers: int, probe: dict[str, float]
) -> tuple[float, int]:
    """The S and number of servers the prediction uses.

    S is the mean duration of the jobs this run actually offers (random mixes draw them from
    the seed) plus the per-job hand-over overhead the probes measured. Jobs that are all
    CPU-bound cannot run on more servers than the machine has cores.
    """
    durations = [item.duration_ms for item in schedule.items] or [
        job.duration_ms for job in scenario.jobs
    ]
    overhead = max(probe["service_s"] - probe["run_only_s"], 0.0)
    service_s = statistics.fmean(durations) / 1000 + overhead
    servers = workers
    if all(job.kind == "cpu" for job in scenario.jobs):
        servers = min(workers, os.cpu_count() or workers)
    return service_s, servers


async def run_mode(
    base_url: str,
    mode: str,
    workers: int,
    plan: RunPlan,
    display: ProgressDisplay,
) -> tuple[list[JobRow], dict[str, Any]]:
    """One run: probe S, send the schedule open loop, collect, summarize."""
    scenario = plan.scenario
    schedule = build_schedule(scenario, plan.seed)
    if plan.shard is not None:
        schedule = plan.shard.select(schedule)
    async with client_session() as session:
        client = ProducerClient(base_url, session)
        phases = PhaseAnnouncer(client, scenario.name, mode, workers)
        await phases.set("probe")
        probe = await measure_service_time(client, mode, scenario)
        progress = Progress()

        def on_start(start_epoch: float) -> None:
            phases.at(start_epoch, "load")
            if schedule.burst_window is not None:
                begin, end = schedule.burst_window
                phases.at(start_epoch + begin, "burst")
                phases.at(start_epoch + max(end, begin + 0.05), "drain")

        try:
            async with display.run(client, mode, workers, progress):
                sends = await generate(
                    base_url,
                    mode,
                    schedule,
                    timeout_s=scenario.timeout_s,
                    progress=progress,
                    on_start=on_start,
                    start_at=plan.start_at,
                )
                await phases.set("drain")
                records: dict[str, dict[str, Any]] = {}
                if mode == "async":
                    records = await collect_async(
                        client, sends, drain_timeout_s=scenario.drain_timeout_s
                    )
        finally:
            await phases.clear()
    rows = to_rows(mode, workers, sends, records)
    service_s, servers = theory_service(scenario, schedule, workers, probe)
    probe.update({"theory_service_s": service_s, "theory_servers": servers})
    inputs = theory_inputs(scenario, servers, service_s)
    summary = summarize_run(rows, mode, workers, inputs)
    if mode == "async":  # a sync job is run once, by its request
        summary["duplicated"] = sum(extra_deliveries(record) for record in records.values())
    summary["probe"] = probe
    if schedule.burst_window is not None:
        summary["burst_window_s"] = list(schedule.burst_window)
    return rows, summary


def service_probe(scenario: Scenario, workers: int) -> ServiceProbe:
    """The probe a sweep runs first: the measured S, and the servers a run would use.

    A sweep sets its rates from the S the probes measured (enqueue to finish), not from the
    nominal job length: CPU-bound jobs on a shared machine run longer than they are asked to.
    """

    async def probe(client: ProducerClient, mode: str) -> tuple[dict[str, float], float, int]:
        measured = await measure_service_time(client, mode, scenario)
        _, servers = theory_service(scenario, Schedule((), 0.0), workers, measured)
        return measured, measured["service_s"], servers

    return probe


def _runs_on(
    url: str, workers: int, plan: RunPlan, display: ProgressDisplay
) -> Iterator[tuple[list[JobRow], dict[str, Any], str]]:
    """Each mode's (rows, summary, generator priority) on one running stack, in plan order.

    A duration sweep runs its modes interleaved in one go; the others run one mode at a time.
    """
    scenario = plan.scenario
    if is_duration_sweep(scenario):
        sweep = run_duration_sweep(url, plan.modes, workers, scenario, display)
        with (
            generator_priority() as priority,
            asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop,
        ):
            results = loop.run(sweep)
        for rows, summary in results:
            yield rows, summary, priority
        return
    for mode in plan.modes:
        if is_sweep(scenario):
            probe = service_probe(scenario, workers)
            run = run_sweep_mode(url, mode, workers, scenario, plan.seed, display, probe)
        else:
            run = run_mode(url, mode, workers, plan, display)
        with (
            generator_priority() as priority,
            asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop,
        ):
            rows, summary = loop.run(run)
        yield rows, summary, priority


def run_experiment(
    plan: RunPlan, *, stack_factory: StackFactory | None = None, live: bool = True
) -> ExperimentResult:
    """Run every (workers, mode) of ``plan``, write jobs.csv, summary.json and the report."""
    factory: StackFactory
    if stack_factory is not None:
        factory = stack_factory
    elif plan.target is not None:
        url = plan.target

        def factory(_workers: int) -> contextlib.AbstractContextManager[Target]:
            return existing_target(url)
    else:

        def factory(workers: int) -> contextlib.AbstractContextManager[Target]:
            return local_stack(workers, plan.broker)

    display = ProgressDisplay(enabled=live)
    started = time.time()
    all_rows: list[JobRow] = []
    runs: list[dict[str, Any]] = []
    with shallow_idle() as cpu_idle:
        for workers in plan.workers:
            display.note(f"workers={workers}: starting the stack" if plan.target is None else "")
            with factory(workers) as target:
                for rows, summary, priority in _runs_on(target.url, workers, plan, display):
                    summary["generator_priority"] = priority
                    if target.replicas is not None:
                        summary["replicas"] = target.replicas
                    all_rows.extend(rows)
                    runs.append(summary)
    checks = check_thresholds(plan.scenario.thresholds, runs)
    summary = {
        "scenario": plan.scenario.name,
        "description": plan.scenario.description,
        "seed": plan.seed,
        "target": plan.target or "local stack",
        "broker": plan.broker if plan.target is None and stack_factory is None else None,
        "started_at": started,
        "elapsed_s": time.time() - started,
        "machine": machine(cpu_idle=cpu_idle),
        "versions": versions(),
        "runs": runs,
        "thresholds": [check.to_dict() for check in checks],
        "passed": all_passed(checks),
    }
    if is_sweep(plan.scenario):
        summary.update(sweep_summary(runs))
    if isinstance(plan.scenario.arrival, DurationSweepArrival):
        sections = crossover_section(runs, plan.scenario.arrival.tolerance)
        summary["crossover"] = sections
        summary["crossover_sentences"] = crossover_sentences(sections)
    if plan.shard is not None:
        summary["shard"] = plan.shard.to_dict() | {
            "start_at": plan.start_at,
            "thresholds": dataclasses.asdict(plan.scenario.thresholds),
        }
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    files = [write_jobs_csv(plan.out_dir / "jobs.csv", all_rows)]
    summary_path = plan.out_dir / "summary.json"
    summary_path.write_text(json.dumps(finite(summary), indent=2, allow_nan=False) + "\n")
    files.append(summary_path)
    if plan.shard is not None:
        histograms = encoded_histograms(all_rows)
        files.append(write_histograms(plan.out_dir / HISTOGRAMS_FILE, histograms))
    files.extend(write_report(plan.out_dir, summary, all_rows))
    return ExperimentResult(plan.out_dir, summary, all_rows, checks, files)


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None, so the JSON is standard."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
