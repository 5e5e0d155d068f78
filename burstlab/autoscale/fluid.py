"""A fluid model of the queue with time-varying capacity: the prediction beside each measurement.

The backlog B(t) (jobs waiting or running) grows with the arrivals and falls by
``min(B, processes(t)) / S``: each of the ``replicas(t) * concurrency`` worker processes finishes
one job per service time S while it has one. ``replicas(t)`` follows the policy exactly as the
live autoscaler does (:class:`~burstlab.autoscale.stabilize.Stabilizer` at every poll tick); a
replica asked for at a tick serves from ``tick + start_delay_s`` (the measured start time of a
worker plus ``replica_start_delay_s``); a removed replica stops serving at once.

Jobs leave in arrival order, so a job that arrived at t starts when the cumulative departures
reach the cumulative arrivals at t, less one S; its latency is that wait plus its own service
time: S, or with measured service times (a user's task varies from job to job) the measured ones
cycled over the jobs in arrival order. Pure: no clock, no I/O.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from burstlab.autoscale.stabilize import Stabilizer
from burstlab.scenario.autoscale import AutoscalePolicy

DT_S = 0.05
"""Integration step."""
SETTLED_BACKLOG = 0.5
"""Below this many jobs the fluid backlog counts as drained."""


@dataclass(frozen=True)
class FluidInput:
    """What the model needs: arrival offsets (seconds from load start), S, the burst window."""

    arrivals_s: tuple[float, ...]
    service_s: float
    duration_s: float
    burst_window: tuple[float, float] | None = None
    start_delay_s: float = 0.0
    """Seconds from a scale-up decision until the new replica serves (measured start + extra)."""
    horizon_s: float = 600.0
    service_samples_s: tuple[float, ...] = ()
    """Measured service times (mean ``service_s``), each job's own; empty: every job takes S."""

    def __post_init__(self) -> None:
        if self.service_s <= 0:
            raise ValueError(f"service_s must be > 0, got {self.service_s}")
        if any(sample < 0 for sample in self.service_samples_s):
            raise ValueError("service_samples_s must not be negative")


@dataclass(frozen=True)
class FluidPoint:
    """The model's state at one poll tick."""

    t_s: float
    backlog: float
    metric: float
    desired: int
    replicas: int
    ready: int


@dataclass(frozen=True)
class FluidResult:
    """The prediction for one policy."""

    peak_backlog: float
    drain_s: float | None
    """From the burst start until every job that arrived by the burst's end has finished."""
    p50_ms: float | None
    p99_ms: float | None
    worker_seconds: float
    peak_replicas: int
    first_scale_up_s: float | None
    """From the burst start to the first scale-up decision (None if none)."""
    full_capacity_s: float | None
    """From the burst start until the peak replica count serves (None if it never rises)."""
    end_s: float
    timeline: tuple[FluidPoint, ...]
    ready_history: tuple[tuple[float, int], ...] = ()
    """(time, replicas serving) at each change: the replicas as the model had them come and go."""

    def figures(self) -> dict[str, Any]:
        """Every figure except the timelines, for summary.json and tables."""
        data = asdict(self)
        data.pop("timeline")
        data.pop("ready_history")
        return data


def fixed_policy(policy: AutoscalePolicy, replicas: int) -> AutoscalePolicy:
    """``policy`` pinned at ``replicas`` (min = max): the fixed-at-min and fixed-at-max runs."""
    return replace(policy, min_replicas=replicas, max_replicas=replicas)


def simulate(
    policy: AutoscalePolicy, data: FluidInput, *, initial: int | None = None
) -> FluidResult:
    """Run the fluid model for ``policy``, starting with ``initial`` replicas (default min)."""
    concurrency = policy.replica_concurrency
    service = data.service_s
    arrivals = sorted(data.arrivals_s)
    stabilizer = Stabilizer(policy)
    replicas = policy.min_replicas if initial is None else initial
    starting: list[float] = []  # ready times of replicas asked for but not serving yet
    ready = replicas
    backlog = arrived = departed = worker_seconds = 0.0
    peak_backlog = 0.0
    departures: list[tuple[float, float]] = [(0.0, 0.0)]
    timeline: list[FluidPoint] = []
    burst_start = data.burst_window[0] if data.burst_window else 0.0
    first_up: float | None = None
    ready_history: list[tuple[float, int]] = [(0.0, ready)]
    next_poll = 0.0
    index = 0
    steps = math.ceil(data.horizon_s / DT_S)
    t = 0.0
    for step in range(steps + 1):
        t = step * DT_S
        while starting and starting[0] <= t:
            starting.pop(0)
            ready += 1
            ready_history.append((t, ready))
        if t >= next_poll - 1e-9:
            processes = ready * concurrency
            metric = (
                backlog if policy.metric == "queued+reserved" else max(0.0, backlog - processes)
            )
            decision = stabilizer.decide(t, metric, replicas)
            if decision.desired > replicas:
                if first_up is None and t >= burst_start:
                    first_up = t - burst_start
                for _ in range(decision.desired - replicas):
                    starting.append(t + data.start_delay_s)
                starting.sort()
            elif decision.desired < replicas:
                for _ in range(replicas - decision.desired):
                    if starting:
                        starting.pop()  # a replica still starting goes first
                    else:
                        ready -= 1
                ready_history.append((t, ready))
            replicas = decision.desired
            timeline.append(FluidPoint(t, backlog, metric, decision.desired, replicas, ready))
            next_poll += policy.polling_interval_s
        new = 0
        while index < len(arrivals) and arrivals[index] < t + DT_S:
            index += 1
            new += 1
        arrived += new
        backlog += new
        served = min(backlog, ready * concurrency) * DT_S / service
        served = min(served, backlog)
        backlog -= served
        departed += served
        departures.append((t + DT_S, departed))
        peak_backlog = max(peak_backlog, backlog)
        worker_seconds += replicas * concurrency * DT_S
        if t >= data.duration_s and index >= len(arrivals) and backlog < SETTLED_BACKLOG:
            break
    end = t + DT_S
    latencies = _latencies_ms(arrivals, departures, service, data.service_samples_s)
    return FluidResult(
        peak_backlog=peak_backlog,
        drain_s=_drain(arrivals, departures, data.burst_window),
        p50_ms=_quantile(latencies, 0.50),
        p99_ms=_quantile(latencies, 0.99),
        worker_seconds=worker_seconds,
        peak_replicas=max(p.replicas for p in timeline) if timeline else replicas,
        first_scale_up_s=first_up,
        full_capacity_s=_full_capacity(ready_history, burst_start),
        end_s=end,
        timeline=tuple(timeline),
        ready_history=tuple(ready_history),
    )


def _finish_time(departures: Sequence[tuple[float, float]], count: float) -> float | None:
    """When cumulative departures first reach ``count`` (linear within a step)."""
    totals = [d for _, d in departures]
    i = bisect.bisect_left(totals, count - 1e-6)
    if i >= len(departures):
        return None
    if i == 0:
        return departures[0][0]
    (t0, d0), (t1, d1) = departures[i - 1], departures[i]
    return t0 + (t1 - t0) * ((count - d0) / (d1 - d0) if d1 > d0 else 1.0)


def _latencies_ms(
    arrivals: Sequence[float],
    departures: Sequence[tuple[float, float]],
    service_s: float,
    samples_s: Sequence[float] = (),
) -> list[float]:
    """Each job's fluid wait (finish less S, at least 0) plus its own service time."""
    out = []
    for n, at in enumerate(arrivals, start=1):
        done = _finish_time(departures, n - 0.5)
        if done is not None:
            own = samples_s[(n - 1) % len(samples_s)] if samples_s else service_s
            out.append((max(done - at - service_s, 0.0) + own) * 1000)
    return out


def _drain(
    arrivals: Sequence[float],
    departures: Sequence[tuple[float, float]],
    window: tuple[float, float] | None,
) -> float | None:
    if window is None:
        return None
    count = bisect.bisect_right(arrivals, window[1])
    done = _finish_time(departures, count - 0.5) if count else window[0]
    return None if done is None else max(done - window[0], 0.0)


def _full_capacity(history: Sequence[tuple[float, int]], burst_start: float) -> float | None:
    peak = max(n for _, n in history)
    if peak == history[0][1]:
        return None
    first = next(t for t, n in history if n == peak)
    return max(first - burst_start, 0.0)


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
