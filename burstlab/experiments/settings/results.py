"""What one worker-settings cell measured, the figures drawn from job timestamps, the verdicts."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from burstlab.scenario.worker_settings import WorkerSettings

FAST_EFFICIENCY = 0.5
"""A cell is "fast" for a kind of job if its drain efficiency (of N/S) reaches this."""


@dataclass(frozen=True)
class CellResult:
    """What one cell measured. Efficiencies are of N/S (1.0: every process busy all along);
    overheads and efficiencies are medians over the cell's repeated bursts."""

    settings: WorkerSettings
    processes: int
    io_overhead_ms: float
    io_efficiency: float
    io_efficiency_range: tuple[float, float]
    cpu_overhead_ms: float
    cpu_efficiency: float
    cpu_efficiency_range: tuple[float, float]
    held_peak: int
    """Most jobs held by the workers at once (taken from the list, not finished)."""
    held_share_half: float
    """Share of the backlog held by the workers when it was half drained."""
    short_p99_ms: float
    """p99 latency (accepted to finished) of short jobs submitted among long ones."""
    short_stuck: int
    """Short jobs that took longer than a long job: they waited behind one."""
    killed_lost: int
    """Jobs accepted but never finished after the worker was SIGKILLed mid-burst."""
    kill_accepted: int

    @property
    def safe(self) -> bool:
        return self.killed_lost == 0

    def fast(self, kind: str) -> bool:
        efficiency = self.io_efficiency if kind == "io" else self.cpu_efficiency
        return efficiency >= FAST_EFFICIENCY

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["label"] = self.settings.label
        data["safe"] = self.safe
        data["fast_io"] = self.fast("io")
        data["fast_cpu"] = self.fast("cpu")
        return data


def drain_figures(
    starts: list[float], ends: list[float], processes: int, job_ms: float
) -> tuple[float, float]:
    """Per-task overhead per process (ms) and drain efficiency of a burst, from job timestamps.

    Drain = last finish - first start; overhead = drain x processes / jobs - job time;
    efficiency = jobs x job time / (processes x drain).
    """
    if not starts or not ends:
        return float("nan"), 0.0
    drain_s = max(ends) - min(starts)
    jobs = len(ends)
    overhead_ms = drain_s * 1000 * processes / jobs - job_ms
    efficiency = jobs * job_ms / 1000 / (processes * drain_s) if drain_s > 0 else 0.0
    return overhead_ms, efficiency


def held_by_workers(samples: list[tuple[int, int, int]], burst: int) -> tuple[int, float]:
    """Peak held and the share held at half drain, from ``(accepted, queued, finished)`` samples.

    Held = accepted - finished - still in the list: what a list-length metric does not see.
    The share is taken at the first sample, after the whole burst was accepted, at which no
    more than half of it is left.
    """
    peak = 0
    half_share = float("nan")
    for accepted, queued, finished in samples:
        backlog = accepted - finished
        held = max(backlog - queued, 0)
        peak = max(peak, held)
        if math.isnan(half_share) and accepted >= burst and 0 < backlog <= burst / 2:
            half_share = held / backlog
    return peak, half_share


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank), NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]


def verdict_rows(results: list[CellResult]) -> list[list[str]]:
    """The closing table: per settings, safe or not, fast or not for io and for cpu jobs."""
    rows = []
    for result in results:
        rows.append(
            [
                result.settings.label,
                "safe" if result.safe else f"LOSES {result.killed_lost}",
                "fast" if result.fast("io") else "slow",
                "fast" if result.fast("cpu") else "slow",
            ]
        )
    return rows


def best(results: list[CellResult], kind: str) -> CellResult | None:
    """The safe cell with the highest drain efficiency for ``kind`` (None if none is safe)."""
    safe = [r for r in results if r.safe]
    if not safe:
        return None
    key = (lambda r: r.io_efficiency) if kind == "io" else (lambda r: r.cpu_efficiency)
    return max(safe, key=key)
