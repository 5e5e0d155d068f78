"""Run a scenario: for each worker count, start a stack (or use a target), drive each mode, report.

The dispatcher: each (workers, mode) goes to its run kind (``burst``, ``sweep``, ``durations``);
the summary, thresholds, jobs.csv and the report are written here for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import uvloop

from burstlab.experiments.burst.run import run_mode
from burstlab.experiments.durations.run import is_duration_sweep, run_duration_sweep
from burstlab.experiments.durations.steps import crossover_section, crossover_sentences
from burstlab.experiments.loadgen.cpu_idle import shallow_idle
from burstlab.experiments.loadgen.priority import generator_priority
from burstlab.experiments.loadgen.probe import is_task, service_distribution, service_probe
from burstlab.experiments.loadgen.progress import ProgressDisplay
from burstlab.experiments.model.histograms import HISTOGRAMS_FILE, write_histograms
from burstlab.experiments.model.prediction import share_run_times
from burstlab.experiments.model.records import JobRow, write_jobs_csv
from burstlab.experiments.model.run import ExperimentResult, RunPlan, finite
from burstlab.experiments.model.stats import encoded_histograms
from burstlab.experiments.report import write_report
from burstlab.experiments.sweep.capacity import sweep_summary
from burstlab.experiments.sweep.run import is_sweep, run_sweep_mode
from burstlab.experiments.targets.stacks import StackFactory, Target, existing_target, local_stack
from burstlab.experiments.targets.task import external_stack
from burstlab.scenario.sweep import DurationSweepArrival
from burstlab.scenario.thresholds import all_passed, check_thresholds
from burstlab.telemetry.environment import machine, versions


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
    finished: list[tuple[list[JobRow], dict[str, Any], str]] = []
    for mode in plan.modes:
        if is_sweep(scenario):
            probe = service_probe(scenario, workers, plan.task.payloads if plan.task else 0)
            run = run_sweep_mode(url, mode, workers, scenario, plan.seed, display, probe)
        else:
            run = run_mode(url, mode, workers, plan, display)
        with (
            generator_priority() as priority,
            asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop,
        ):
            rows, summary = loop.run(run)
        finished.append((rows, summary, priority))
    if is_task(scenario) and not is_sweep(scenario):
        # Both sides of a user's task predicted from one distribution: their probes pooled
        _share_distribution([(rows, summary) for rows, summary, _ in finished])
    yield from finished


def _share_distribution(runs: list[tuple[list[JobRow], dict[str, Any]]]) -> None:
    """Predict both sides of a user's task from their probes pooled, and keep that one
    distribution beside each run (``shared_distribution``: what the report shows once)."""
    pooled = share_run_times(runs)
    if not pooled:
        return
    probes = [summary.get("probe") or {} for _, summary in runs]
    busy = sum(sum(p.get("run_samples_s") or ()) for p in probes)
    cpu = sum(
        (p.get("distribution") or {}).get("cpu_share", 0.0) * sum(p.get("run_samples_s") or ())
        for p in probes
    )
    failed = sum((p.get("distribution") or {}).get("failed", 0) for p in probes)
    apart = max(len(summary["prediction"].get("own_run_s") or ()) for _, summary in runs)
    shared = service_distribution(list(pooled), [], failed) | {
        "cpu_share": cpu / busy if busy > 0 else 0.0,
        "sides": [summary["mode"] for _, summary in runs],
        "kept_apart": apart,
        "run_excess_ms": {
            summary["mode"]: summary["prediction"].get("run_excess_s", 0.0) * 1000
            for _, summary in runs
        },
    }
    for _, summary in runs:
        summary["shared_distribution"] = shared


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
    elif plan.task is not None and plan.task.external is not None:
        task = plan.task

        def factory(_workers: int) -> contextlib.AbstractContextManager[Target]:
            return external_stack(task)
    else:

        def factory(workers: int) -> contextlib.AbstractContextManager[Target]:
            return local_stack(workers, plan.broker, plan.task.target if plan.task else None)

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
        "task_target": plan.task.to_dict() if plan.task else None,
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
