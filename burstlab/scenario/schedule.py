"""Arrival schedules: when each job is meant to be sent, and what it is, drawn from a seed.

Every pattern is a rate function lambda(t) with cumulative Lambda(t). Paced sends go at
Lambda^-1(k) for k = 0, 1, 2, ... (so the count is ceil(Lambda(T)), exactly the integral
when it is whole); Poisson sends map unit-rate Poisson points through Lambda^-1 (the
time-rescaling theorem), which gives a non-homogeneous Poisson process of that rate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from burstlab.scenario.arrivals import (
    Arrival,
    BurstArrival,
    PoissonArrival,
    RampArrival,
    SineArrival,
    SteadyArrival,
    StepArrival,
)
from burstlab.scenario.spec import MAX_DURATION_MS, JobMix, Scenario
from burstlab.scenario.sweep import BurstSweepArrival, DurationSweepArrival, SweepArrival

# Slack for float error in Lambda(T) so a whole integral gives exactly that many paced sends.
_EPSILON = 1e-9


@dataclass(frozen=True)
class PlannedJob:
    """One intended send: offset from run start, the job to submit, whether it is burst traffic."""

    offset_s: float
    kind: str
    duration_ms: float
    in_burst: bool = False


@dataclass(frozen=True)
class Schedule:
    """All intended sends of a run, sorted by offset."""

    items: tuple[PlannedJob, ...]
    duration_s: float
    burst_window: tuple[float, float] | None = None

    @property
    def offered(self) -> int:
        """Number of jobs the generator will send."""
        return len(self.items)


@dataclass(frozen=True)
class _Profile:
    """A rate function by its total integral and the inverse of its cumulative."""

    total: float
    inverse: Callable[[float], float]


def _constant(rate: float, duration_s: float) -> _Profile:
    return _Profile(rate * duration_s, lambda x: x / rate)


def _ramp(start: float, end: float, duration_s: float) -> _Profile:
    slope = (end - start) / duration_s

    def inverse(x: float) -> float:
        # Root of start*t + slope*t^2/2 = x in the form that is stable when slope ~ 0.
        if x <= 0:
            return 0.0
        return 2 * x / (start + math.sqrt(max(start * start + 2 * slope * x, 0.0)))

    return _Profile((start + end) / 2 * duration_s, inverse)


def _steps(arrival: StepArrival) -> _Profile:
    def inverse(x: float) -> float:
        start, cumulative = 0.0, 0.0
        for step in arrival.steps:
            mass = step.rate * step.duration_s
            if step.rate > 0 and x < cumulative + mass:
                return start + (x - cumulative) / step.rate
            start, cumulative = start + step.duration_s, cumulative + mass
        return start

    return _Profile(sum(s.rate * s.duration_s for s in arrival.steps), inverse)


def _sine(arrival: SineArrival) -> _Profile:
    omega = 2 * math.pi / arrival.period_s

    def cumulative(t: float) -> float:
        return arrival.mean_rate * t + arrival.amplitude / omega * (1 - math.cos(omega * t))

    def inverse(x: float) -> float:
        # Lambda is non-decreasing (amplitude <= mean), so bisection always converges.
        if x <= 0:
            return 0.0
        low, high = 0.0, arrival.duration_s
        for _ in range(60):
            middle = (low + high) / 2
            low, high = (middle, high) if cumulative(middle) < x else (low, middle)
        return (low + high) / 2

    return _Profile(cumulative(arrival.duration_s), inverse)


def _points(total: float, process: str, rng: random.Random) -> list[float]:
    """Arrival points in Lambda-space: whole numbers when paced, unit-rate Poisson otherwise."""
    if process == "paced":
        return [float(k) for k in range(max(math.ceil(total - _EPSILON), 0))]
    points: list[float] = []
    x = rng.expovariate(1.0)
    while x < total:
        points.append(x)
        x += rng.expovariate(1.0)
    return points


def _send_times(profile: _Profile, process: str, rng: random.Random) -> list[float]:
    return [profile.inverse(x) for x in _points(profile.total, process, rng)]


def expected_count(arrival: Arrival) -> float:
    """Integral of the rate over the run: the mean number of sends (burst jobs included)."""
    if isinstance(arrival, BurstArrival):
        return arrival.size + arrival.base_rate * arrival.duration_s
    return _profile(arrival).total


def _profile(arrival: Arrival) -> _Profile:
    if isinstance(arrival, (SteadyArrival, PoissonArrival)):
        return _constant(arrival.rate, arrival.duration_s)
    if isinstance(arrival, BurstArrival):
        if arrival.base_rate == 0:
            return _Profile(0.0, lambda x: 0.0)
        return _constant(arrival.base_rate, arrival.duration_s)
    if isinstance(arrival, StepArrival):
        return _steps(arrival)
    if isinstance(arrival, RampArrival):
        return _ramp(arrival.start_rate, arrival.end_rate, arrival.duration_s)
    if isinstance(arrival, SineArrival):
        return _sine(arrival)
    raise ValueError("a sweep has no single schedule: the sweep builds one per step")


def arrival_offsets(arrival: Arrival, rng: random.Random) -> list[tuple[float, bool]]:
    """Sorted ``(offset_s, in_burst)`` pairs for one arrival pattern."""
    if isinstance(arrival, SteadyArrival):
        process = "paced"
    elif isinstance(arrival, PoissonArrival):
        process = "poisson"
    elif isinstance(arrival, SweepArrival | BurstSweepArrival | DurationSweepArrival):
        raise ValueError("a sweep has no single schedule: the sweep builds one per step")
    else:
        process = arrival.process
    sends = [(t, False) for t in _send_times(_profile(arrival), process, rng)]
    if isinstance(arrival, BurstArrival):
        spacing = arrival.window_s / arrival.size
        sends += [(arrival.at_s + i * spacing, True) for i in range(arrival.size)]
    return sorted(sends)


def draw_duration_ms(job: JobMix, rng: random.Random) -> float:
    """One duration from the entry's distribution (mean ``duration_ms``), in ms to 1 us.

    Draws are capped at the producer's limit, so a long tail cannot produce a rejected job.
    """
    if job.distribution == "exponential":
        value = rng.expovariate(1.0 / job.duration_ms)
    elif job.distribution == "uniform":
        assert job.min_ms is not None and job.max_ms is not None
        value = rng.uniform(job.min_ms, job.max_ms)
    elif job.distribution == "lognormal":
        assert job.sigma is not None
        mu = math.log(job.duration_ms) - job.sigma**2 / 2
        value = rng.lognormvariate(mu, job.sigma)
    else:
        value = job.duration_ms
    return round(min(value, MAX_DURATION_MS), 3)


def build_schedule(scenario: Scenario, seed: int | None = None) -> Schedule:
    """A scenario's schedule; the same seed (default: the scenario's) gives the same one."""
    master = random.Random(scenario.seed if seed is None else seed)
    # Separate streams so changing the job mix does not move the arrival times.
    arrivals_rng = random.Random(master.getrandbits(64))
    mix_rng = random.Random(master.getrandbits(64))
    weights = [job.weight for job in scenario.jobs]
    items = []
    for offset, in_burst in arrival_offsets(scenario.arrival, arrivals_rng):
        job = mix_rng.choices(scenario.jobs, weights)[0]
        items.append(PlannedJob(offset, job.kind, draw_duration_ms(job, mix_rng), in_burst))
    window = None
    if isinstance(scenario.arrival, BurstArrival):
        window = (scenario.arrival.at_s, scenario.arrival.at_s + scenario.arrival.window_s)
    return Schedule(tuple(items), scenario.arrival.duration_s, window)
