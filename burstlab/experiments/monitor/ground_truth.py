"""Per-second series rebuilt from a run's jobs.csv: what Prometheus should have seen.

Every job row knows when it arrived at the producer, when it finished and when its caller was
answered. From those times alone this module rebuilds, on the same time grid as a Prometheus
range query, the offered and completed rates (over the same trailing window the recording
rules use), the backlog (jobs the system held at each instant) and the totals.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from burstlab.experiments.model.records import JobRow

COMPLETED_OUTCOMES = ("succeeded", "failed")
"""Outcomes the producer counts in ``burstlab_jobs_completed_total``."""


@dataclass(frozen=True)
class Series:
    """Values at the instants of a time grid (epoch seconds); NaN where there is no sample."""

    times: tuple[float, ...]
    values: tuple[float, ...]

    def peak(self) -> float:
        """The largest finite value (0 for an empty or all-NaN series)."""
        return max((v for v in self.values if math.isfinite(v)), default=0.0)

    def span_above(self, fraction: float = 0.5) -> tuple[float, float] | None:
        """First and last instant at or above ``fraction`` of the peak: when a burst shows.

        ``None`` when the series never rises above zero.
        """
        peak = self.peak()
        if peak <= 0:
            return None
        level = peak * fraction
        above = [t for t, v in zip(self.times, self.values, strict=True) if v >= level]
        return above[0], above[-1]


def grid(start: float, end: float, step_s: float = 1.0) -> tuple[float, ...]:
    """``start``, ``start + step``, ... up to ``end``: the instants of a range query."""
    count = math.floor((end - start) / step_s + 1e-9) + 1
    return tuple(start + i * step_s for i in range(count))


def window_rate(events: Iterable[float], times: Sequence[float], window_s: float) -> Series:
    """Events per second in the trailing ``(t - window_s, t]`` at each instant (a rate[w])."""
    ordered = sorted(events)
    values = tuple(
        (bisect.bisect_right(ordered, t) - bisect.bisect_right(ordered, t - window_s)) / window_s
        for t in times
    )
    return Series(tuple(times), values)


def held(intervals: Sequence[tuple[float, float]], times: Sequence[float]) -> Series:
    """How many ``[arrived, left)`` intervals contain each instant (a gauge of jobs held)."""
    arrivals = sorted(a for a, _ in intervals)
    departures = sorted(b for _, b in intervals)
    values = tuple(
        float(bisect.bisect_right(arrivals, t) - bisect.bisect_right(departures, t)) for t in times
    )
    return Series(tuple(times), values)


def arrived_at(row: JobRow) -> float:
    """When the producer received the job (counted as offered): its own timestamp, else sent."""
    return row.submitted if row.submitted is not None else row.sent


def left_at(row: JobRow) -> float:
    """When the job stopped being held: finished (async) or answered (sync, or not accepted).

    A job that never left (lost, or no answer) is held to the end of time.
    """
    if row.mode == "async" and row.outcome in COMPLETED_OUTCOMES:
        left = row.finished
    else:
        left = row.accepted
    return left if left is not None else math.inf


def completed_at(row: JobRow) -> float | None:
    """When the producer counted the job as completed (None if it never was)."""
    if row.outcome not in COMPLETED_OUTCOMES:
        return None
    if row.mode == "sync":
        return row.finished if row.finished is not None else row.accepted
    return row.finished


@dataclass(frozen=True)
class ModeSeries:
    """One mode on a grid: offered and completed rates, backlog, and the two totals.

    Built from the ground truth here, and from Prometheus by :mod:`.checks`.
    """

    offered: Series
    completed: Series
    backlog: Series
    offered_total: int
    completed_total: int


def rebuild(
    rows: Iterable[JobRow], mode: str, times: Sequence[float], window_s: float
) -> ModeSeries:
    """The ground truth of ``mode``'s rows on ``times``, rates over ``window_s``."""
    mine = [row for row in rows if row.mode == mode]
    finished = [t for t in (completed_at(row) for row in mine) if t is not None]
    return ModeSeries(
        offered=window_rate((arrived_at(row) for row in mine), times, window_s),
        completed=window_rate(finished, times, window_s),
        backlog=held([(arrived_at(row), left_at(row)) for row in mine], times),
        offered_total=len(mine),
        completed_total=len(finished),
    )
