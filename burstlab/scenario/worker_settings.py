"""The worker-settings scenario's matrix: the settings each cell runs with.

:mod:`burstlab.experiments.settings.run` runs the cells; what a cell measured and the verdicts
drawn from it are in :mod:`burstlab.experiments.settings.results`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from burstlab.scenario.fields import Table

POOLS = ("prefork", "threads", "solo")
KIND = "worker-settings"


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
