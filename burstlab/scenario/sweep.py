"""Sweep arrival patterns: steady Poisson load at rising utilisations, or bursts of rising size.

``pattern = "sweep"`` offers, per mode x workers, open-loop Poisson load at each utilisation
rho of the capacity N / S measured just before (S from the probes); ``pattern =
"burst-sweep"`` sends bursts of B = multiple x (N / S x 1 s) jobs at once, one step per
multiple. Each step's first ``warmup_fraction`` is sent but left out of the statistics.
``pattern = "duration-sweep"`` sends the same burst of ``size`` jobs at each job duration, both
modes interleaved, to find where the queue's per-job overhead stops mattering.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from burstlab.jobs.spec import MAX_DURATION_MS
from burstlab.scenario.fields import ScenarioError, Table, show

DEFAULT_RHO = (0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 1.1)
DEFAULT_MULTIPLES = (0.5, 1.0, 2.0, 4.0, 8.0)
WARMUP_FRACTION = 0.25
MIN_STEP_S = 3.0
MAX_STEP_S = 15.0
MEASURED_JOBS = 60
"""Jobs the measured part of a step should hold on average (sets the length at low rates)."""
DEFAULT_DURATIONS_MS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
DEFAULT_BURST = 200
DEFAULT_REPEATS = 3
DEFAULT_TOLERANCE = 0.10
RELAXATION_RHO_CAP = 0.95
"""Relaxation time grows without bound as rho -> 1; the warm-up is sized as if rho were this."""


@dataclass(frozen=True)
class SweepArrival:
    """Steady Poisson load at each ``rho`` x N / S; ``step_s`` None: chosen per step."""

    rho: tuple[float, ...] = DEFAULT_RHO
    step_s: float | None = None
    warmup_fraction: float = WARMUP_FRACTION

    @property
    def duration_s(self) -> float:
        """Nominal sending time when ``step_s`` is fixed (0 when it is chosen at run time)."""
        return (self.step_s or 0.0) * len(self.rho)


@dataclass(frozen=True)
class BurstSweepArrival:
    """One burst per step of B = ``multiple`` x (jobs N workers finish in one second)."""

    multiples: tuple[float, ...] = DEFAULT_MULTIPLES
    window_s: float = 0.0

    @property
    def duration_s(self) -> float:
        """Bursts are sent at once; the steps last as long as their drain."""
        return self.window_s * len(self.multiples)


@dataclass(frozen=True)
class DurationSweepArrival:
    """The same burst of ``size`` jobs at once, at each of ``durations_ms``, ``repeats`` times.

    ``tolerance``: besides where async drains slower than sync at all, the report finds the
    duration below which it drains more than ``1 + tolerance`` times as long.
    """

    durations_ms: tuple[float, ...] = DEFAULT_DURATIONS_MS
    size: int = DEFAULT_BURST
    repeats: int = DEFAULT_REPEATS
    tolerance: float = DEFAULT_TOLERANCE

    @property
    def duration_s(self) -> float:
        """Bursts are sent at once; the steps last as long as their drain."""
        return 0.0


def parse_rho(values: object, field: str) -> tuple[float, ...]:
    """A non-empty, strictly increasing list of utilisations > 0; ScenarioError names ``field``."""
    if not isinstance(values, list | tuple) or not values:
        raise ScenarioError(
            f"{field}: must be a non-empty array of numbers > 0, got {show(values)}"
        )
    numbers = []
    for value in values:
        if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
            raise ScenarioError(f"{field}: every value must be a number > 0, got {show(value)}")
        if not math.isfinite(value):
            raise ScenarioError(f"{field}: every value must be finite, got {show(value)}")
        numbers.append(float(value))
    for before, after in itertools.pairwise(numbers):
        if not after > before:
            raise ScenarioError(
                f"{field}: must be strictly increasing, got {show(after)} after {show(before)}"
            )
    return tuple(numbers)


def parse_rho_text(text: str, field: str = "--rho") -> tuple[float, ...]:
    """``"0.3,0.6,0.9"`` as a validated rho list."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        numbers = [float(part) for part in parts]
    except ValueError as exc:
        raise ScenarioError(f"{field}: expected comma-separated numbers, got {text!r}") from exc
    return parse_rho(numbers, field)


def parse_sweep(table: Table) -> SweepArrival:
    """``[arrival] pattern = "sweep"``: rho, step_s, warmup_fraction."""
    rho = parse_rho(table.data["rho"], table.path("rho")) if table.has("rho") else DEFAULT_RHO
    step = table.optional_number("step_s", above=0)
    warmup = table.number("warmup_fraction", at_least=0, default=WARMUP_FRACTION)
    if warmup >= 0.9:
        raise table.fail("warmup_fraction", "must be a number >= 0 and < 0.9")
    return SweepArrival(rho, step, warmup)


def parse_burst_sweep(table: Table) -> BurstSweepArrival:
    """``[arrival] pattern = "burst-sweep"``: multiples (increasing, > 0), window_s."""
    multiples: tuple[float, ...] = DEFAULT_MULTIPLES
    if table.has("multiples"):
        multiples = parse_rho(table.data["multiples"], table.path("multiples"))
    return BurstSweepArrival(multiples, table.number("window_s", at_least=0, default=0.0))


def parse_duration_sweep(table: Table) -> DurationSweepArrival:
    """``[arrival] pattern = "duration-sweep"``: durations_ms, size, repeats, tolerance."""
    durations: tuple[float, ...] = DEFAULT_DURATIONS_MS
    if table.has("durations_ms"):
        durations = parse_rho(table.data["durations_ms"], table.path("durations_ms"))
        if durations[-1] > MAX_DURATION_MS:
            raise ScenarioError(
                f"{table.path('durations_ms')}: every value must be <= {MAX_DURATION_MS}, "
                f"got {show(table.data['durations_ms'][-1])}"
            )
    return DurationSweepArrival(
        durations,
        table.integer("size", at_least=1, default=DEFAULT_BURST),
        table.integer("repeats", at_least=1, default=DEFAULT_REPEATS),
        table.number("tolerance", at_least=0, default=DEFAULT_TOLERANCE),
    )


SWEEP_KEYS = ("rho", "step_s", "warmup_fraction")
BURST_SWEEP_KEYS = ("multiples", "window_s")
DURATION_SWEEP_KEYS = ("durations_ms", "size", "repeats", "tolerance")


def relaxation_s(rho: float, service_s: float, servers: int) -> float:
    """The M/M/c relaxation time S / (c (1 - sqrt(rho))^2), rho capped at RELAXATION_RHO_CAP:
    about how long the queue takes to forget where it was (its waits come in busy periods this
    long, not one by one)."""
    capped = min(rho, RELAXATION_RHO_CAP)
    return service_s / (servers * (1 - math.sqrt(capped)) ** 2)


def step_length_s(rho: float, service_s: float, servers: int) -> float:
    """A step long enough for steady state: warm-up past the relaxation time, then enough jobs.

    The M/M/c relaxation time is about S / (c (1 - sqrt(rho))^2); the warm-up is twice that,
    and the measured rest holds MEASURED_JOBS jobs at rate rho c / S, within [3 s, 15 s].
    """
    rate = rho * servers / service_s
    warmup = 2 * relaxation_s(rho, service_s, servers) / WARMUP_FRACTION
    measured = MEASURED_JOBS / rate / (1 - WARMUP_FRACTION)
    return min(max(warmup, measured, MIN_STEP_S), MAX_STEP_S)


def check_step_holds_jobs(
    step_s: float,
    rho: Sequence[float],
    service_s: float,
    servers: int,
    *,
    warmup_fraction: float = WARMUP_FRACTION,
    field: str = "arrival.step_s",
) -> None:
    """Refuse a step whose measured part would not hold one job per worker at the lowest rho."""
    lowest = min(rho)
    expected = lowest * servers / service_s * step_s * (1 - warmup_fraction)
    if expected < servers:
        need = servers * service_s / (lowest * servers * (1 - warmup_fraction))
        raise ScenarioError(
            f"{field}: too short to hold one job per worker at rho {lowest:g} "
            f"(S = {service_s * 1000:g} ms): needs >= {need:.3g} s, got {step_s:g}"
        )
