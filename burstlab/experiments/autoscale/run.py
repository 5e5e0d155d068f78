"""The autoscale run kind: the same seeded burst under fixed-at-min, fixed-at-max and the policy.

One local stack per mode; between policies the replicas are set back to the policy's starting
count and the queue is empty. For each policy the autoscaler polls and scales during the run
(fixed policies never move, but their backlog is recorded the same way), the job rows are
collected, and the figures are set beside the fluid model's prediction for that policy.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from burstlab.autoscale.fluid import fixed_policy, simulate
from burstlab.autoscale.plan import fluid_input
from burstlab.autoscale.replicas import (
    GunicornReplicas,
    LocalWorkerReplicas,
    ReplicaTarget,
    machine_replica_limit,
)
from burstlab.autoscale.scaler import Autoscaler, AutoscalerMetrics, queue_metric
from burstlab.client import Producer, ProducerError
from burstlab.experiments.autoscale.figures import deviations, policy_figures
from burstlab.experiments.autoscale.report import write_autoscale_report
from burstlab.experiments.burst.run import run_mode
from burstlab.experiments.loadgen.progress import ProgressDisplay
from burstlab.experiments.model.prediction import (
    ReplayInputs,
    origin_of,
    replica_servers,
    run_prediction,
)
from burstlab.experiments.model.records import JobRow, write_jobs_csv
from burstlab.experiments.model.run import ExperimentResult, RunPlan, finite
from burstlab.jobs.record import reruns
from burstlab.jobs.target import TaskTarget
from burstlab.scenario.autoscale import AutoscalePolicy
from burstlab.scenario.spec import ScenarioError
from burstlab.scenario.thresholds import all_passed, check_thresholds
from burstlab.stack.local import SYNC_IN_FLIGHT_PER_BASELINE_WORKER, LocalStack, StackConfig
from burstlab.telemetry.environment import machine, versions
from burstlab.telemetry.exposition import MetricsServer

POLICIES = ("fixed-min", "fixed-max", "autoscale")
READY_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class PolicyRun:
    """One policy of the comparison: its name, the policy it follows, where it starts."""

    name: str
    policy: AutoscalePolicy

    @property
    def initial(self) -> int:
        return max(self.policy.min_replicas, 1)


def policy_runs(policy: AutoscalePolicy) -> list[PolicyRun]:
    """Fixed at ``min_replicas`` (at least one), fixed at ``max_replicas``, then the policy."""
    return [
        PolicyRun("fixed-min", fixed_policy(policy, max(policy.min_replicas, 1))),
        PolicyRun("fixed-max", fixed_policy(policy, policy.max_replicas)),
        PolicyRun("autoscale", policy),
    ]


def check_machine(policy: AutoscalePolicy, available_mb: float | None = None) -> None:
    """Refuse a policy this machine cannot start (ScenarioError names the field and the limit)."""
    limit = machine_replica_limit(policy.replica_concurrency, available_mb)
    if policy.max_replicas > limit:
        raise ScenarioError(
            f"autoscale.max_replicas: this machine can start at most {limit} replicas of "
            f"{policy.replica_concurrency} worker processes (memory), got {policy.max_replicas}"
        )
    if policy.min_replicas < 1:
        raise ScenarioError(
            "autoscale.min_replicas: the local stack keeps its own worker as replica one; "
            "scale to zero is not run locally (it is rendered for KEDA)"
        )


def _wait(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.2)


def _queue_empty(producer: Producer) -> bool:
    try:
        depth = producer.queue(timeout_s=2.0)
    except ProducerError:
        return False
    return float(depth["backlog"]) == 0 and float(depth["sync"]["backlog"]) == 0


def _announcer(producer: Producer, concurrency: int) -> Any:
    """Re-announce the current phase with the new worker count (Grafana shows the change)."""

    def announce(replicas: int) -> None:
        try:
            context = producer.experiment()
            if context:
                producer.set_phase(
                    scenario=context["scenario"],
                    mode=context["mode"],
                    workers=replicas * concurrency,
                    phase=context["phase"],
                )
        except (ProducerError, KeyError, ValueError):
            pass  # an announcement is never worth a run

    return announce


@contextmanager
def _mode_stack(
    mode: str, policy: AutoscalePolicy, task: TaskTarget | None
) -> Iterator[tuple[LocalStack, ReplicaTarget]]:
    concurrency = policy.replica_concurrency
    in_flight = SYNC_IN_FLIGHT_PER_BASELINE_WORKER * concurrency * policy.max_replicas
    config = StackConfig(
        workers=concurrency,
        baseline_workers=concurrency,
        extra_env={"SYNC_MAX_INFLIGHT": str(in_flight)},
        stop_timeout_s=10.0,
        target=task,
    )
    with LocalStack(config) as stack:
        target: ReplicaTarget
        if mode == "sync":
            assert stack.baseline.pid is not None
            target = GunicornReplicas(stack.baseline.pid, concurrency, initial=1)
        else:
            target = LocalWorkerReplicas(
                redis_url=stack.redis_url,
                env=dict(stack.worker.env),
                run_dir=stack.run_dir,
                concurrency=concurrency,
            )
        try:
            yield stack, target
        finally:
            target.close()


def _set_initial(target: ReplicaTarget, replicas: int, producer: Producer) -> None:
    if isinstance(target, LocalWorkerReplicas | GunicornReplicas):
        target.start_delay_s = 0.0
    target.scale(replicas)
    _wait(lambda: target.ready() == replicas, READY_TIMEOUT_S, f"{replicas} replicas")
    if isinstance(target, LocalWorkerReplicas):
        _wait(lambda: target.stopping() == 0, READY_TIMEOUT_S, "removed replicas to stop")
    _wait(lambda: _queue_empty(producer), READY_TIMEOUT_S, "an empty queue")


def _duplicates(producer: Producer, rows: list[JobRow]) -> dict[str, int]:
    """Runs after a job's first (``ran_again``) and deliveries of a job that had finished,
    acknowledged without running (``redelivered_done``), e.g. a replica stopped between a job's
    end and its acknowledgement."""
    ids = [r.job_id for r in rows if r.job_id]
    views = producer.lookup(ids) if ids else {}
    again = sum(reruns(v) for v in views.values())
    done = sum(int(v.get("duplicates") or 0) for v in views.values())
    return {"duplicated": again + done, "ran_again": again, "redelivered_done": done}


def run_autoscale(plan: RunPlan, *, live: bool = True) -> ExperimentResult:
    """Run every mode of ``plan`` under each policy; write summary.json, jobs CSVs, the report."""
    scenario = plan.scenario
    if scenario.autoscale is None:
        raise ScenarioError(f"{scenario.name}: autoscale: the scenario has no [autoscale] table")
    policy = scenario.autoscale
    check_machine(policy)
    display = ProgressDisplay(enabled=live)
    registry = CollectorRegistry()
    metrics = AutoscalerMetrics(registry)
    server = MetricsServer("127.0.0.1", 0, registry)
    metrics_url = f"http://127.0.0.1:{server.port}/metrics"
    started = time.time()
    runs: list[dict[str, Any]] = []
    rows_of: list[list[JobRow]] = []
    all_rows: list[JobRow] = []
    files: list[Path] = []
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    try:
        for mode in plan.modes:
            task = plan.task.target if plan.task else None
            with _mode_stack(mode, policy, task) as (stack, target):
                producer = Producer(stack.producer_url, timeout_s=10)
                for item in policy_runs(policy):
                    display.note(f"{mode} {item.name}: {item.initial} replica(s)")
                    measured = len(getattr(target, "start_times_s", []))
                    _set_initial(target, item.initial, producer)
                    setup = list(getattr(target, "start_times_s", []))[measured:]
                    if isinstance(target, LocalWorkerReplicas | GunicornReplicas):
                        target.start_delay_s = policy.replica_start_delay_s
                    run = _run_policy(plan, mode, item, target, producer, metrics, display)
                    run["setup_start_times_s"] = setup
                    rows = run.pop("_rows")
                    rows_of.append(rows)
                    all_rows.extend(rows)
                    files.append(
                        write_jobs_csv(plan.out_dir / f"jobs-{mode}-{item.name}.csv", rows)
                    )
                    runs.append(run)
    finally:
        server.shutdown()
    _predict(plan, runs, rows_of)
    checks = []
    for run in runs:
        limits = scenario.thresholds
        if run["policy"] != "autoscale":
            limits = replace(limits, completion_p99_ms=None)
        for check in check_thresholds(limits, [run]):
            checks.append(replace(check, subject=f"{run['mode']} {run['policy']}"))
    summary = {
        "scenario": scenario.name,
        "description": scenario.description,
        "kind": "autoscale",
        "seed": plan.seed,
        "target": "local stack",
        "started_at": started,
        "elapsed_s": time.time() - started,
        "machine": machine(),
        "versions": versions(),
        "task_target": plan.task.to_dict() if plan.task else None,
        "policy": policy.__dict__,
        "slo_p99_ms": scenario.thresholds.completion_p99_ms,
        "autoscaler_metrics_url": metrics_url,
        "runs": runs,
        "thresholds": [check.to_dict() for check in checks],
        "passed": all_passed(checks),
    }
    summary_path = plan.out_dir / "summary.json"
    summary_path.write_text(json.dumps(finite(summary), indent=2, allow_nan=False) + "\n")
    files.append(summary_path)
    files.extend(write_autoscale_report(plan.out_dir, summary))
    return ExperimentResult(plan.out_dir, summary, all_rows, checks, files)


def _run_policy(
    plan: RunPlan,
    mode: str,
    item: PolicyRun,
    target: ReplicaTarget,
    producer: Producer,
    metrics: AutoscalerMetrics,
    display: ProgressDisplay,
) -> dict[str, Any]:
    concurrency = item.policy.replica_concurrency
    starts_before = len(getattr(target, "start_times_s", []))
    ready_before = len(getattr(target, "ready_epochs_s", []))
    stops_before = len(getattr(target, "stop_epochs_s", []))
    scaler = Autoscaler(
        item.policy,
        queue_metric(producer, mode, item.policy.metric),
        target,
        name=f"{mode}-{item.name}",
        metrics=metrics,
        announce=_announcer(producer, concurrency),
    ).start()
    try:
        rows, summary = asyncio.run(
            run_mode(producer.base_url, mode, item.initial * concurrency, plan, display)
        )
    finally:
        scaler.stop()
    window = summary.get("burst_window_s")
    timeline = scaler.timeline_dicts()
    figures = policy_figures(rows, timeline, concurrency, tuple(window) if window else None)
    if mode == "async":
        figures.update(_duplicates(producer, rows))
    else:
        figures.update({"duplicated": 0, "ran_again": 0, "redelivered_done": 0})
    summary.update(
        {
            "policy": item.name,
            "policy_settings": item.policy.__dict__,
            "autoscale": figures,
            "timeline": timeline,
            "load_start_epoch": min((r.intended for r in rows), default=None),
            "start_times_s": list(getattr(target, "start_times_s", []))[starts_before:],
            "replica_ready_epochs_s": list(getattr(target, "ready_epochs_s", []))[ready_before:],
            "replica_stop_epochs_s": list(getattr(target, "stop_epochs_s", []))[stops_before:],
            "initial_replicas": item.initial,
            "_rows": rows,
        }
    )
    return summary


def _predict(plan: RunPlan, runs: list[dict[str, Any]], rows_of: list[list[JobRow]]) -> None:
    """Set two predictions beside each run: the fluid model's (``prediction``: the policy
    simulated, S and the start time as measured: what the run should give, planned) and the
    queue replay's (``replay``: the jobs as sent, through the replicas as they really came and
    went, each from its own ready time: what the pipeline should have done)."""
    scenario = plan.scenario
    assert scenario.autoscale is not None
    every_start = [
        s for run in runs for s in [*run["setup_start_times_s"], *run.get("start_times_s", [])]
    ]
    for run, rows in zip(runs, rows_of, strict=True):
        # The replicas this run started, else every start measured (S is measured the same way)
        starts = run.get("start_times_s") or every_start
        start_s = statistics.median(starts) if starts else None
        run["replay"] = _replay(run, rows)
        settings = _policy_of(scenario.autoscale, run["policy"])
        if run["mode"] == "sync":  # the sync side scales on waiting + in flight, all of it
            settings = replace(settings, metric="queued+reserved")
        probe = run.get("probe", {})
        delay = None if start_s is None else start_s + settings.replica_start_delay_s
        data = fluid_input(
            scenario,
            seed=plan.seed,
            service_s=probe.get("theory_service_s"),
            start_delay_s=delay,
            service_samples_s=tuple(probe.get("samples_s", ())),
        )
        predicted = simulate(settings, data)
        run["prediction"] = {
            **predicted.figures(),
            "start_delay_s": data.start_delay_s,
            "service_s": data.service_s,
            "timeline": [p.__dict__ for p in predicted.timeline],
        }
        measured = {
            **run["autoscale"],
            "peak_backlog": run["peak_backlog"],
            "p99_ms": run["latency_ms"]["p99"],
        }
        run["deviations"] = deviations(measured, predicted.figures())


def _replay(run: dict[str, Any], rows: list[JobRow]) -> dict[str, Any] | None:
    """The run replayed through its replicas as they came and went (None without inputs)."""
    inputs = (run.get("prediction") or {}).get("inputs")
    if not inputs or not rows:
        return None
    replay = ReplayInputs.from_dict(inputs)
    concurrency = int(run["policy_settings"]["replica_concurrency"])
    origin = origin_of(rows)
    servers = replica_servers(
        int(run["initial_replicas"]),
        concurrency,
        [t - origin for t in run["replica_ready_epochs_s"]],
        [t - origin for t in run["replica_stop_epochs_s"]],
    )
    latency = run["latency_ms"]
    # The mean the replay counts: the burst's jobs (the load before and after it is light)
    burst = [r.latency_s for r in rows if r.in_burst and r.outcome == "succeeded"]
    burst_latencies = [v for v in burst if v is not None]
    window = run.get("burst_window_s")
    measured = {
        "drain_s": run["autoscale"].get("drain_s"),
        "peak_backlog": run.get("peak_backlog"),
        "mean_s": statistics.fmean(burst_latencies) if burst_latencies else None,
        **{f"{k}_s": None if latency.get(k) is None else latency[k] / 1000
           for k in ("p50", "p99")},
    }  # fmt: skip
    drain_until = origin + float(window[1]) if window else None
    return run_prediction(rows, run["mode"], replay, measured, servers, drain_until)


def _policy_of(policy: AutoscalePolicy, name: str) -> AutoscalePolicy:
    return {item.name: item.policy for item in policy_runs(policy)}[name]
