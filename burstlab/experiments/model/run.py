"""What a run is asked to do and what it produced, shared by every run kind.

A :class:`RunPlan` names the scenario, modes, worker counts and results folder; an
:class:`ExperimentResult` is what came back; :func:`finite` keeps summary.json standard JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from burstlab.experiments.model.records import JobRow
from burstlab.experiments.targets.task import ResolvedTarget
from burstlab.scenario.shard import Shard
from burstlab.scenario.spec import Scenario
from burstlab.scenario.thresholds import ThresholdCheck, all_passed


@dataclass(frozen=True)
class RunPlan:
    """What to run: a scenario, its modes and worker counts, where to write the results."""

    scenario: Scenario
    modes: tuple[str, ...]
    workers: tuple[int, ...]
    out_dir: Path
    seed: int
    target: str | None = None
    broker: str = "redis"
    """The broker of the local stacks the plan starts (``redis`` or ``rabbitmq``)."""
    shard: Shard | None = None
    start_at: float | None = None
    task: ResolvedTarget | None = None
    """The user's Celery task the stacks run (``--app/--task/--payloads``), or None."""


@dataclass
class ExperimentResult:
    """Everything a run produced."""

    out_dir: Path
    summary: dict[str, Any]
    rows: list[JobRow] = field(default_factory=list)
    checks: list[ThresholdCheck] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all_passed(self.checks)


def default_out_dir(scenario: Scenario, root: Path = Path("results")) -> Path:
    """``results/<UTC timestamp>-<scenario>/``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return root / f"{stamp}-{scenario.name}"


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None, so the JSON is standard."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
