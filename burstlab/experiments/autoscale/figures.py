"""The figures of one policy's run, from its job rows and the autoscaler's timeline; pure.

Times in the timeline and the rows are epoch seconds. The run spans from its first intended
send to its last finished job; the burst starts at the first intended send of a burst job.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from burstlab.experiments.model.records import JobRow

DEVIATION_LIMIT = 0.20
"""Measured and predicted figures further apart than this (a fraction) are flagged."""
COMPARED = ("drain_s", "peak_backlog", "p99_ms", "worker_seconds")
HANDFUL = 5.0
"""A peak backlog under this many jobs on both sides is a handful in flight, not a queue: its
ratio (2 measured against 0.1 predicted is +1,600 %) says nothing, so it is shown, not compared."""


def worker_seconds(
    timeline: Sequence[Mapping[str, Any]], concurrency: int, start: float, end: float
) -> float:
    """Integral of requested replicas x concurrency over [start, end]; a count holds until
    the next poll, the count before the first poll is the first poll's ``requested``."""
    if end <= start or not timeline:
        return 0.0
    total = 0.0
    count = int(timeline[0]["requested"])
    at = start
    for point in timeline:
        t = min(max(float(point["epoch_s"]), start), end)
        total += count * (t - at)
        at = t
        count = int(point["requested"])
    total += count * (end - at)
    return total * concurrency


def policy_figures(
    rows: Sequence[JobRow],
    timeline: Sequence[Mapping[str, Any]],
    concurrency: int,
    burst_window: tuple[float, float] | None,
) -> dict[str, Any]:
    """Worker-seconds, peak replicas, time to first scale-up and to full capacity, drain time,
    and what the scaled metric did not see (backlog minus metric) during the run."""
    intended = [r.intended for r in rows]
    ends = [r.end for r in rows if r.end is not None]
    start = min(intended, default=0.0)
    end = max(ends, default=start)
    burst_start = start + burst_window[0] if burst_window else start
    burst_end = start + burst_window[1] if burst_window else start
    inside = [p for p in timeline if start <= float(p["epoch_s"]) <= end] or list(timeline)
    peak = max((int(p["requested"]) for p in inside), default=0)
    first_up = next(
        (
            float(p["epoch_s"]) - burst_start
            for before, p in itertools.pairwise(inside)
            if int(p["requested"]) > int(before["requested"]) and float(p["epoch_s"]) >= burst_start
        ),
        None,
    )
    initial = int(inside[0]["ready"]) if inside else 0
    full = next(
        (
            max(float(p["epoch_s"]) - burst_start, 0.0)
            for p in inside
            if int(p["ready"]) >= peak and float(p["epoch_s"]) >= burst_start
        ),
        None,
    )
    burst_jobs = [r.end for r in rows if r.intended <= burst_end + 1e-6]
    drain = (
        max(e for e in burst_jobs if e is not None) - burst_start
        if burst_window and burst_jobs and all(e is not None for e in burst_jobs)
        else None
    )
    unseen = [float(p["backlog"]) - float(p["metric"]) for p in inside]
    return {
        "worker_seconds": worker_seconds(timeline, concurrency, start, end),
        "peak_replicas": peak,
        "first_scale_up_s": first_up,
        "full_capacity_s": full if peak > initial else None,
        "drain_s": drain,
        "metric_unseen_mean": sum(unseen) / len(unseen) if unseen else None,
        "metric_unseen_max": max(unseen, default=None),
        "run_span_s": end - start,
    }


def deviations(measured: Mapping[str, Any], predicted: Mapping[str, Any]) -> dict[str, Any]:
    """(measured - predicted) / predicted for each compared figure, flagged beyond the limit."""
    out: dict[str, Any] = {}
    for name in COMPARED:
        m, p = measured.get(name), predicted.get(name)
        small = name == "peak_backlog" and max(float(m or 0), float(p or 0)) < HANDFUL
        if m is None or p is None or p == 0 or small:
            out[name] = {"measured": m, "predicted": p, "deviation": None, "flagged": False}
            continue
        dev = (float(m) - float(p)) / float(p)
        out[name] = {
            "measured": m,
            "predicted": p,
            "deviation": dev,
            "flagged": abs(dev) > DEVIATION_LIMIT,
        }
    return out
