"""Arrival patterns: when jobs are sent. Each is a frozen dataclass read from ``[arrival]``."""

from __future__ import annotations

from dataclasses import dataclass

from burstlab.scenario.fields import Table
from burstlab.scenario.sweep import (
    BURST_SWEEP_KEYS,
    DURATION_SWEEP_KEYS,
    SWEEP_KEYS,
    BurstSweepArrival,
    DurationSweepArrival,
    SweepArrival,
    parse_burst_sweep,
    parse_duration_sweep,
    parse_sweep,
)

PROCESSES = ("paced", "poisson")


@dataclass(frozen=True)
class SteadyArrival:
    """Evenly paced sends at ``rate`` per second."""

    rate: float
    duration_s: float


@dataclass(frozen=True)
class PoissonArrival:
    """Exponential inter-arrival times at mean ``rate`` per second."""

    rate: float
    duration_s: float


@dataclass(frozen=True)
class BurstArrival:
    """``size`` jobs at ``at_s`` (spread evenly over ``window_s`` if > 0) over ``base_rate``."""

    size: int
    at_s: float
    duration_s: float
    window_s: float = 0.0
    base_rate: float = 0.0
    process: str = "paced"


@dataclass(frozen=True)
class Step:
    """One constant-rate segment of a step pattern."""

    rate: float
    duration_s: float


@dataclass(frozen=True)
class StepArrival:
    """Constant-rate segments one after another."""

    steps: tuple[Step, ...]
    process: str = "paced"

    @property
    def duration_s(self) -> float:
        """Total length of all steps."""
        return sum(step.duration_s for step in self.steps)


@dataclass(frozen=True)
class RampArrival:
    """Rate changing linearly from ``start_rate`` to ``end_rate`` over ``duration_s``."""

    start_rate: float
    end_rate: float
    duration_s: float
    process: str = "paced"


@dataclass(frozen=True)
class SineArrival:
    """Rate ``mean_rate + amplitude * sin(2 pi t / period_s)``."""

    mean_rate: float
    amplitude: float
    period_s: float
    duration_s: float
    process: str = "paced"


Arrival = (
    SteadyArrival
    | PoissonArrival
    | BurstArrival
    | StepArrival
    | RampArrival
    | SineArrival
    | SweepArrival
    | BurstSweepArrival
    | DurationSweepArrival
)


def parse_arrival(data: object) -> Arrival:
    """Build the arrival pattern from the ``[arrival]`` table."""
    # Read the pattern first so unknown keys are reported against that pattern's keys.
    probe = Table(data, "arrival", data.keys() if isinstance(data, dict) else ())
    pattern = probe.choice("pattern", tuple(_ARRIVAL_KEYS))
    table = Table(data, "arrival", ("pattern", *_ARRIVAL_KEYS[pattern]))
    if pattern == "sweep":
        return parse_sweep(table)
    if pattern == "burst-sweep":
        return parse_burst_sweep(table)
    if pattern == "duration-sweep":
        return parse_duration_sweep(table)
    process = table.choice("process", PROCESSES, default="paced")
    if pattern == "steady":
        return SteadyArrival(table.number("rate", above=0), table.number("duration_s", above=0))
    if pattern == "poisson":
        return PoissonArrival(table.number("rate", above=0), table.number("duration_s", above=0))
    if pattern == "burst":
        return _burst(table, process)
    if pattern == "step":
        steps = table.array("steps")
        parsed = tuple(_step(item, f"arrival.steps[{i}]") for i, item in enumerate(steps))
        if not any(step.rate > 0 for step in parsed):
            raise table.fail("steps", "must have at least one step with rate > 0")
        return StepArrival(parsed, process)
    if pattern == "ramp":
        start = table.number("start_rate", at_least=0)
        end = table.number("end_rate", at_least=0)
        if start == 0 and end == 0:
            raise table.fail("end_rate", "must be > 0 when start_rate is 0")
        return RampArrival(start, end, table.number("duration_s", above=0), process)
    mean = table.number("mean_rate", above=0)
    amplitude = table.number("amplitude", at_least=0)
    if amplitude > mean:
        raise table.fail("amplitude", f"must be <= mean_rate ({mean:g}) so the rate stays >= 0")
    period = table.number("period_s", above=0)
    return SineArrival(mean, amplitude, period, table.number("duration_s", above=0), process)


def _burst(table: Table, process: str) -> BurstArrival:
    size = table.integer("size", at_least=1)
    at_s = table.number("at_s", at_least=0)
    window = table.number("window_s", at_least=0, default=0.0)
    duration = table.number("duration_s", above=0)
    if duration < at_s + window:
        raise table.fail("duration_s", f"must be >= at_s + window_s ({at_s + window:g})")
    base = table.number("base_rate", at_least=0, default=0.0)
    return BurstArrival(size, at_s, duration, window, base, process)


def _step(data: object, where: str) -> Step:
    table = Table(data, where, ("rate", "duration_s"))
    return Step(table.number("rate", at_least=0), table.number("duration_s", above=0))


_ARRIVAL_KEYS: dict[str, tuple[str, ...]] = {
    "steady": ("rate", "duration_s"),
    "poisson": ("rate", "duration_s"),
    "burst": ("size", "at_s", "window_s", "base_rate", "duration_s", "process"),
    "step": ("steps", "process"),
    "ramp": ("start_rate", "end_rate", "duration_s", "process"),
    "sine": ("mean_rate", "amplitude", "period_s", "duration_s", "process"),
    "sweep": SWEEP_KEYS,
    "burst-sweep": BURST_SWEEP_KEYS,
    "duration-sweep": DURATION_SWEEP_KEYS,
}
