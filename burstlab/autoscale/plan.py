"""``burstlab plan``: the fluid model answers, without running anything, what meets the SLO.

For a scenario's burst and SLO (``thresholds.completion_p99_ms``): the smallest fixed replica
count whose predicted p99 meets it, and the policy settings (target backlog per replica,
polling interval; the rest of the scenario's ``[autoscale]`` kept) that meet it at the fewest
worker-seconds. The fluid model searches (it simulates the policy's decisions: 42 settings in
a second); each setting shown is then checked by the queue replay that predicts every run
(:mod:`burstlab.experiments.model.replay`): the seeded jobs, first come first served, through
the replicas as the fluid model had them come and go. Where the two disagree on meeting the
SLO, the plan says so.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from burstlab.autoscale.fluid import FluidInput, FluidResult, fixed_policy, simulate
from burstlab.scenario.autoscale import AutoscalePolicy
from burstlab.scenario.schedule import build_schedule
from burstlab.scenario.spec import Scenario, ScenarioError

HANDOFF_S = 0.005
"""Per-job hand-over cost (broker fetch, result write) added to the job's duration for S."""
PROCESS_START_S = 3.0
"""A worker process's start time assumed on a loaded 2-core machine. ``burstlab run`` measured
medians of 1.16 s for replicas the scaler started and 1.80 s for five started at once (to the
consumer consuming; 2.6 to 3.1 s read from the first answered control ping, which saw them late):
the plan keeps 3 s, above every start measured, because one made with 2.5 s missed its SLO."""
HEADROOM = 0.1
"""A plan must predict a p99 this much under the SLO: a run has jitter the model has not."""
TARGETS = (5, 10, 20, 40, 80, 160)
POLLING_INTERVALS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0)


@dataclass(frozen=True)
class Candidate:
    """One setting and its prediction."""

    label: str
    policy: AutoscalePolicy
    prediction: FluidResult
    replayed_p99_ms: float | None = None
    """The queue replay's p99 through the same replicas (None until checked)."""

    def meets(self, slo_ms: float) -> bool:
        p99 = self.prediction.p99_ms
        return p99 is not None and p99 <= slo_ms

    def replay_meets(self, slo_ms: float) -> bool | None:
        """Whether the replay's p99 meets ``slo_ms`` (None when not checked)."""
        return None if self.replayed_p99_ms is None else self.replayed_p99_ms <= slo_ms

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "min_replicas": self.policy.min_replicas,
            "max_replicas": self.policy.max_replicas,
            "target_backlog_per_replica": self.policy.target_backlog_per_replica,
            "polling_interval_s": self.policy.polling_interval_s,
            **self.prediction.figures(),
            "replayed_p99_ms": self.replayed_p99_ms,
        }


@dataclass(frozen=True)
class Plan:
    """What ``burstlab plan`` prints."""

    slo_ms: float
    headroom: float
    service_s: float
    start_delay_s: float
    fixed: Candidate | None
    """The smallest fixed count that meets the SLO (None: not even ``max_replicas``)."""
    cheapest: Candidate | None
    """The cheapest autoscale setting that meets the SLO (None: none does)."""
    scenario_policy: Candidate
    fixed_tried: tuple[Candidate, ...]
    policies_tried: int
    disagreements: tuple[str, ...] = ()
    """Where the replay's p99 and the fluid model's fall on different sides of the limit."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "slo_p99_ms": self.slo_ms,
            "headroom": self.headroom,
            "service_s": self.service_s,
            "start_delay_s": self.start_delay_s,
            "smallest_fixed": self.fixed.to_dict() if self.fixed else None,
            "cheapest_policy": self.cheapest.to_dict() if self.cheapest else None,
            "scenario_policy": self.scenario_policy.to_dict(),
            "policies_tried": self.policies_tried,
            "disagreements": list(self.disagreements),
        }


@dataclass(frozen=True)
class Measured:
    """What a run measured that the plan can use instead of its defaults."""

    service_s: float
    samples_s: tuple[float, ...]
    """Per-job service times of a user's task (empty for burstlab's own jobs)."""
    process_start_s: float | None
    """The median start of a worker process in that run (None: none started)."""


def measured_inputs(summary: Mapping[str, Any], source: str = "the summary") -> Measured:
    """S, the per-job service times and the median process start a run measured (its
    summary.json): from the async run's probe, else the first run's."""
    runs = [r for r in summary.get("runs") or [] if isinstance(r, Mapping)]
    run = next((r for r in runs if r.get("mode") == "async"), runs[0] if runs else {})
    probe = run.get("probe") or {}
    service = probe.get("service_s")
    if not isinstance(service, int | float) or service <= 0:
        raise ScenarioError(f"{source}: no run in it has a probed service time (probe.service_s)")
    starts = [
        float(s)
        for r in runs
        for s in [*(r.get("setup_start_times_s") or []), *(r.get("start_times_s") or [])]
    ]
    return Measured(
        service_s=float(service),
        samples_s=tuple(float(x) for x in probe.get("samples_s") or ()),
        process_start_s=statistics.median(starts) if starts else None,
    )


def fluid_input(
    scenario: Scenario,
    *,
    seed: int | None = None,
    service_s: float | None = None,
    start_delay_s: float | None = None,
    service_samples_s: tuple[float, ...] = (),
) -> FluidInput:
    """The model's input for ``scenario``'s seeded schedule (S, its samples and the start time
    if measured)."""
    policy = _policy(scenario)
    schedule = build_schedule(scenario, scenario.seed if seed is None else seed)
    if service_s is None:
        durations = [item.duration_ms for item in schedule.items] or [scenario.mean_duration_ms]
        service_s = sum(durations) / len(durations) / 1000 + HANDOFF_S
    if start_delay_s is None:
        start_delay_s = PROCESS_START_S + policy.replica_start_delay_s
    return FluidInput(
        arrivals_s=tuple(item.offset_s for item in schedule.items),
        service_s=service_s,
        duration_s=schedule.duration_s,
        burst_window=schedule.burst_window,
        start_delay_s=start_delay_s,
        horizon_s=schedule.duration_s + scenario.drain_timeout_s,
        service_samples_s=service_samples_s,
    )


def _policy(scenario: Scenario) -> AutoscalePolicy:
    if scenario.autoscale is None:
        raise ScenarioError(f"{scenario.name}: autoscale: the scenario has no [autoscale] table")
    return scenario.autoscale


def slo_ms(scenario: Scenario) -> float:
    """The scenario's SLO; ScenarioError names the missing field."""
    value = scenario.thresholds.completion_p99_ms
    if value is None:
        raise ScenarioError(
            f"{scenario.name}: thresholds.completion_p99_ms: the SLO (p99 completion latency, ms) "
            "is required to plan"
        )
    return value


def plan(scenario: Scenario, data: FluidInput | None = None, *, headroom: float = HEADROOM) -> Plan:
    """Search fixed counts and policy settings with the fluid model; nothing runs.

    A setting qualifies when its predicted p99 is at most ``(1 - headroom)`` x the SLO.
    """
    if not 0 <= headroom < 1:
        raise ValueError(f"headroom must be in [0, 1), got {headroom}")
    policy = _policy(scenario)
    slo = slo_ms(scenario)
    limit = slo * (1 - headroom)
    data = data or fluid_input(scenario)
    fixed_tried = []
    fixed: Candidate | None = None
    for count in range(max(policy.min_replicas, 1), policy.max_replicas + 1):
        pinned = fixed_policy(policy, count)
        candidate = Candidate(f"fixed {count}", pinned, simulate(pinned, data))
        fixed_tried.append(candidate)
        if candidate.meets(limit):
            fixed = candidate
            break
    cheapest: Candidate | None = None
    tried = 0
    for target in TARGETS:
        for polling in POLLING_INTERVALS_S:
            setting = replace(policy, target_backlog_per_replica=target, polling_interval_s=polling)
            candidate = Candidate(
                f"target {target}, polling {polling:g} s", setting, simulate(setting, data)
            )
            tried += 1
            if candidate.meets(limit) and (
                cheapest is None
                or candidate.prediction.worker_seconds < cheapest.prediction.worker_seconds - 1e-6
            ):
                cheapest = candidate
    own = Candidate("scenario policy", policy, simulate(policy, data))
    checked = {id(c): replay_checked(c, data) for c in (*fixed_tried, own, cheapest) if c}
    fixed_shown = tuple(checked[id(c)] for c in fixed_tried)
    fixed = checked[id(fixed)] if fixed else None
    cheapest = checked[id(cheapest)] if cheapest else None
    own = checked[id(own)]
    shown = (*fixed_shown, own, *((cheapest,) if cheapest else ()))
    disagreements = tuple(
        f"{c.label}: the fluid model's p99 {c.prediction.p99_ms:,.0f} ms "
        f"{'meets' if c.meets(limit) else 'misses'} {limit:g} ms, the replay's "
        f"{c.replayed_p99_ms:,.0f} ms {'meets' if c.replay_meets(limit) else 'misses'} it"
        for c in shown
        if c.replay_meets(limit) is not None
        and c.replay_meets(limit) != c.meets(limit)
        and c.prediction.p99_ms is not None
        and c.replayed_p99_ms is not None
    )
    return Plan(
        slo, headroom, data.service_s, data.start_delay_s, fixed, cheapest, own,
        fixed_shown, tried, disagreements,
    )  # fmt: skip


def replay_checked(candidate: Candidate, data: FluidInput) -> Candidate:
    """``candidate`` with the queue replay's p99: the seeded jobs, each its own service time
    (S, or the measured ones cycled as the fluid model takes them), through the replicas as the
    fluid model had them come and go (a removal stops the newest)."""
    from burstlab.experiments.model.prediction import replica_servers
    from burstlab.experiments.model.replay import Workload, predict
    from burstlab.experiments.model.service import ServiceModel

    arrivals = sorted(data.arrivals_s)
    if not arrivals:
        return candidate
    history = candidate.prediction.ready_history or ((0.0, candidate.policy.min_replicas),)
    initial, ready, stops = history[0][1], [], []
    for (_, before), (at, now) in itertools.pairwise(history):
        ready += [at] * max(now - before, 0)
        stops += [at] * max(before - now, 0)
    if initial < 1 and not ready:
        return candidate
    servers = replica_servers(initial, candidate.policy.replica_concurrency, ready, stops)
    samples = data.service_samples_s or (data.service_s,)
    job_s = [samples[i % len(samples)] for i in range(len(arrivals))]
    load = Workload.of(arrivals, job_s=job_s)
    try:
        band = predict(load, ServiceModel(), servers, replays=1).bands["p99_s"]
    except ValueError:  # every replica stopped with jobs left: the replay cannot say
        return candidate
    return replace(candidate, replayed_p99_ms=band.median * 1000)
