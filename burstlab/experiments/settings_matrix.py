"""The worker-settings experiment's matrix, what one cell measured, and the verdicts drawn.

Pure logic, no services: :mod:`burstlab.experiments.worker_settings` runs the cells.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any

from burstlab.experiments._validate import Table

POOLS = ("prefork", "threads", "solo")
KIND = "worker-settings"
FAST_EFFICIENCY = 0.5
"""A cell is "fast" for a kind of job if its drain efficiency (of N/S) reaches this."""


def disable_prefetch_supported() -> bool:
    """Whether the installed Celery has ``worker_disable_prefetch`` (5.6 and later)."""
    from celery.app.defaults import NAMESPACES

    return "disable_prefetch" in NAMESPACES["worker"]


@dataclass(frozen=True)
class WorkerSettings:
    """One cell's Celery settings, passed to the worker as its environment."""

    pool: str = "prefork"
    prefetch_multiplier: int = 1
    acks_late: bool = True
    disable_prefetch: bool = False

    @property
    def label(self) -> str:
        acks = "late" if self.acks_late else "early"
        extra = " no-prefetch" if self.disable_prefetch else ""
        return f"{self.pool} x{self.prefetch_multiplier} acks-{acks}{extra}"

    def env(self) -> dict[str, str]:
        """The worker environment variables (workers.config.WorkerConfig) for these settings."""
        return {
            "WORKER_POOL": self.pool,
            "WORKER_PREFETCH_MULTIPLIER": str(self.prefetch_multiplier),
            "WORKER_ACKS_LATE": "1" if self.acks_late else "0",
            "WORKER_DISABLE_PREFETCH": "1" if self.disable_prefetch else "0",
        }


@dataclass(frozen=True)
class Matrix:
    """Which settings to try, and the workloads every cell runs."""

    pools: tuple[str, ...] = POOLS
    prefetch_multipliers: tuple[int, ...] = (1, 4)
    acks_late: tuple[bool, ...] = (True, False)
    disable_prefetch: tuple[bool, ...] = (False,)
    disable_prefetch_cell: bool = True
    """Add one prefork cell (largest multiplier, late acks) with Celery's disable-prefetch on,
    where the installed Celery has it."""
    concurrency: int = 4
    io_jobs: int = 200
    io_ms: float = 10.0
    cpu_jobs: int = 60
    cpu_ms: float = 10.0
    long_ms: float = 400.0
    long_jobs: int = 2
    """Long jobs submitted first (at most processes - 1, so a process stays free)."""
    short_jobs: int = 40
    short_ms: float = 5.0
    kill_jobs: int = 40
    kill_ms: float = 200.0
    settle_timeout_s: float = 30.0
    repeats: int = 3
    """io and cpu bursts per cell (alternating); the report gives their median and range."""

    def cells(self, with_disable_prefetch: bool | None = None) -> list[WorkerSettings]:
        """Every combination, then the disable-prefetch cell; none twice."""
        supported = (
            disable_prefetch_supported()
            if with_disable_prefetch is None
            else (with_disable_prefetch)
        )
        disables = self.disable_prefetch if supported else (False,)
        found: list[WorkerSettings] = []
        for pool, prefetch, acks, disable in itertools.product(
            self.pools, self.prefetch_multipliers, self.acks_late, disables
        ):
            found.append(WorkerSettings(pool, prefetch, acks, disable))
        if self.disable_prefetch_cell and supported and "prefork" in self.pools:
            extra = WorkerSettings("prefork", max(self.prefetch_multipliers), True, True)
            found.append(extra)
        return list(dict.fromkeys(found))


def _bools(table: Table, key: str, default: tuple[bool, ...]) -> tuple[bool, ...]:
    values = table.array(key, default=list(default))
    if not values or not all(isinstance(v, bool) for v in values):
        raise table.fail(key, "must be a non-empty array of true/false")
    return tuple(values)


def parse_matrix(data: object, concurrency: int) -> Matrix:
    """Read the ``[matrix]`` table; :class:`ScenarioError` names the first bad field."""
    defaults = Matrix()
    numbers = ("io_ms", "cpu_ms", "long_ms", "short_ms", "kill_ms", "settle_timeout_s")
    counts = ("io_jobs", "cpu_jobs", "long_jobs", "short_jobs", "kill_jobs", "repeats")
    keys = (
        "pools", "prefetch_multipliers", "acks_late", "disable_prefetch",
        "disable_prefetch_cell", *numbers, *counts,
    )  # fmt: skip
    table = Table(data, "matrix", keys)
    pools = table.array("pools", default=list(defaults.pools))
    if not pools or not all(pool in POOLS for pool in pools):
        raise table.fail("pools", f"must be a non-empty array of {', '.join(POOLS)}")
    prefetch = table.array("prefetch_multipliers", default=list(defaults.prefetch_multipliers))
    if not prefetch or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in prefetch
    ):
        raise table.fail("prefetch_multipliers", "must be a non-empty array of integers >= 0")
    cell = data.get("disable_prefetch_cell", True) if isinstance(data, dict) else True
    if not isinstance(cell, bool):
        raise table.fail("disable_prefetch_cell", "must be true or false")
    sizes: dict[str, Any] = {
        key: table.number(key, above=0, default=getattr(defaults, key)) for key in numbers
    }
    sizes |= {key: table.integer(key, at_least=1, default=getattr(defaults, key)) for key in counts}
    return Matrix(
        pools=tuple(pools),
        prefetch_multipliers=tuple(prefetch),
        acks_late=_bools(table, "acks_late", defaults.acks_late),
        disable_prefetch=_bools(table, "disable_prefetch", defaults.disable_prefetch),
        disable_prefetch_cell=cell,
        concurrency=concurrency,
        **sizes,
    )


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
