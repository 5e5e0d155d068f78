"""Where async stops paying: drain time against job duration, predicted and measured.

A burst of B jobs of duration d on N servers drains in about ``rounds`` = ceil(B / N) rounds
of (d + o), o being the per-job overhead of the mode (sync: the HTTP forward to a blocking
worker; async: the broker hop and Celery's hand-over). A burst of no-op jobs (d = 0) drains in
rounds x o (accept time included): o = its drain / rounds. The ratio async / sync,
(d + o_a) / (d + o_s), falls towards 1 as d grows; the crossover for a tolerance t is the
duration below which it exceeds 1 + t: d* = (o_a - (1 + t) o_s) / t. With t = 0 the two
drains are parallel lines in d: async is slower at every duration (o_a > o_s) or at none.
The same formula read with each mode's o fitted to all its measured drains (slope held at
rounds) tells whether the model explains the measurement when o is not taken from no-op jobs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

CROSSED = "crossed"
"""The ratio passes the threshold at the duration given."""
ABOVE = "above"
"""Measured: async is past the threshold at every duration (the crossover is above the range)."""
BELOW = "below"
"""Async is within the threshold at every duration (the crossover is below the range, or 0)."""
NEVER = "never"
"""Predicted: the ratio stays past the threshold at every duration however long."""


@dataclass(frozen=True)
class Crossing:
    """Where a drain ratio crosses ``threshold`` = 1 + tolerance; ``duration_ms`` if it does."""

    how: str
    duration_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def burst_rounds(burst: int, servers: int) -> int:
    """ceil(B / N): how many jobs the busiest server runs in one burst."""
    if burst < 1 or servers < 1:
        raise ValueError(f"burst and servers must be >= 1, got {burst} and {servers}")
    return math.ceil(burst / servers)


def per_job_overhead_ms(noop_drain_s: float, rounds: int) -> float:
    """The per-job overhead o (ms) a burst of no-op jobs shows: its drain / ceil(B / N)."""
    return noop_drain_s / rounds * 1000


def fitted_overhead_ms(
    durations_ms: Sequence[float], drains_s: Sequence[float], rounds: int
) -> float:
    """The o (ms) of the least-squares fit of drain = ceil(B / N) x (d + o) to measured drains."""
    if not durations_ms or len(durations_ms) != len(drains_s):
        raise ValueError("one drain per duration, at least one")
    excess = [y * 1000 / rounds - d for d, y in zip(durations_ms, drains_s, strict=True)]
    return sum(excess) / len(excess)


def predicted_drain_s(overhead_ms: float, rounds: int, duration_ms: float) -> float:
    """Drain of a burst of jobs of ``duration_ms``: ceil(B / N) x (d + o)."""
    return rounds * (duration_ms + overhead_ms) / 1000


def model_crossing(overhead_sync_ms: float, overhead_async_ms: float, tolerance: float) -> Crossing:
    """Below which duration ceil(B/N) (d + o_async) exceeds (1 + tolerance) ceil(B/N) (d + o_sync).

    d* = (o_async - (1 + t) o_sync) / t, whatever B and N; with t = 0 the drains are parallel
    lines in d, so async is slower at every duration (o_async > o_sync) or at none.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    excess_ms = overhead_async_ms - (1 + tolerance) * overhead_sync_ms
    if tolerance == 0:
        return Crossing(NEVER) if excess_ms > 0 else Crossing(BELOW, 0.0)
    duration_ms = excess_ms / tolerance
    if duration_ms <= 0:
        return Crossing(BELOW, 0.0)
    return Crossing(CROSSED, duration_ms)


def measured_crossing(
    durations_ms: Sequence[float], ratios: Sequence[float | None], tolerance: float
) -> Crossing:
    """Below which duration measured async / sync drain ratios exceed 1 + tolerance.

    The crossover is past the last duration whose ratio exceeds the threshold (so a noisy dip
    at a short duration does not count), interpolated between it and the next duration, linear
    in the ratio and in log duration (the durations are spread over decades). Durations
    without a ratio are left out.
    """
    points = [(d, r) for d, r in zip(durations_ms, ratios, strict=True) if r is not None]
    if not points:
        raise ValueError("no duration has a ratio")
    threshold = 1 + tolerance
    above = [i for i, (_, r) in enumerate(points) if r > threshold]
    if not above:
        return Crossing(BELOW)
    last = above[-1]
    if last == len(points) - 1:
        return Crossing(ABOVE)
    (d0, r0), (d1, r1) = points[last], points[last + 1]
    fraction = (r0 - threshold) / (r0 - r1)
    log_d = math.log(d0) + fraction * (math.log(d1) - math.log(d0))
    return Crossing(CROSSED, math.exp(log_d))


def fit_line(durations_ms: Sequence[float], drains_s: Sequence[float]) -> dict[str, Any]:
    """Least-squares drain = a + b x d (d in ms): intercept_s a, slope_s_per_ms b and R^2."""
    n = len(durations_ms)
    if n < 2 or len(set(durations_ms)) < 2:
        raise ValueError("a line needs two or more distinct durations")
    mean_d = sum(durations_ms) / n
    mean_y = sum(drains_s) / n
    sxx = sum((d - mean_d) ** 2 for d in durations_ms)
    sxy = sum((d - mean_d) * (y - mean_y) for d, y in zip(durations_ms, drains_s, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_d
    residual = sum(
        (y - intercept - slope * d) ** 2 for d, y in zip(durations_ms, drains_s, strict=True)
    )
    total = sum((y - mean_y) ** 2 for y in drains_s)
    return {
        "intercept_s": intercept,
        "slope_s_per_ms": slope,
        "r2": 1 - residual / total if total > 0 else None,
    }
