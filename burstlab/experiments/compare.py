"""Compare two results folders run by run (matched on mode and workers)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

# metric name -> (label, True when a higher value is better)
METRICS: dict[str, tuple[str, bool]] = {
    "throughput_per_s": ("throughput /s", True),
    "p50_ms": ("p50 ms", False),
    "p99_ms": ("p99 ms", False),
    "drain_s": ("drain s", False),
    "slo_capacity_per_s": ("SLO capacity /s", True),
}


@dataclass(frozen=True)
class RunMetrics:
    """The compared numbers of one run."""

    throughput_per_s: float | None
    p50_ms: float | None
    p99_ms: float | None
    drain_s: float | None
    slo_capacity_per_s: float | None = None

    @classmethod
    def from_run(cls, run: Mapping[str, Any]) -> RunMetrics:
        """Pick the metrics out of a summarize_run dict."""
        latency = run.get("latency_ms", {})
        capacity = run.get("capacity") or {}
        return cls(
            run.get("throughput_per_s"),
            latency.get("p50"),
            latency.get("p99"),
            run.get("drain_s"),
            capacity.get("slo_capacity_per_s"),
        )


@dataclass(frozen=True)
class ComparisonRow:
    """One (mode, workers) run in both folders; a side is None when that folder lacks the run."""

    mode: str
    workers: int
    a: RunMetrics | None
    b: RunMetrics | None

    def delta(self, metric: str) -> float | None:
        """b - a for a metric, None if either side is missing."""
        if self.a is None or self.b is None:
            return None
        before, after = getattr(self.a, metric), getattr(self.b, metric)
        return None if before is None or after is None else after - before

    def relative(self, metric: str) -> float | None:
        """(b - a) / a, None if missing or a is 0."""
        change = self.delta(metric)
        before = getattr(self.a, metric) if self.a else None
        return None if change is None or not before else change / before


@dataclass(frozen=True)
class ComparisonTable:
    """All runs of two results folders, sync first then by workers."""

    label_a: str
    label_b: str
    rows: tuple[ComparisonRow, ...]


def load_summary(results_dir: Path | str) -> dict[str, Any]:
    """The summary.json of a results folder."""
    path = Path(results_dir) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no summary.json in this results folder")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def compare(dir_a: Path | str, dir_b: Path | str) -> ComparisonTable:
    """Match the runs of two results folders by (mode, workers)."""
    runs_a = {(r["mode"], r["workers"]): r for r in load_summary(dir_a).get("runs", [])}
    runs_b = {(r["mode"], r["workers"]): r for r in load_summary(dir_b).get("runs", [])}
    keys = sorted(runs_a.keys() | runs_b.keys(), key=lambda k: (k[0] != "sync", k[1]))
    rows = tuple(
        ComparisonRow(
            mode,
            workers,
            RunMetrics.from_run(runs_a[(mode, workers)]) if (mode, workers) in runs_a else None,
            RunMetrics.from_run(runs_b[(mode, workers)]) if (mode, workers) in runs_b else None,
        )
        for mode, workers in keys
    )
    return ComparisonTable(Path(dir_a).name or str(dir_a), Path(dir_b).name or str(dir_b), rows)


def _side(metrics: RunMetrics | None, metric: str) -> str:
    value = getattr(metrics, metric) if metrics else None
    return "\u2013" if value is None else f"{value:,.1f}"


def _change(row: ComparisonRow, metric: str) -> str:
    relative = row.relative(metric)
    if relative is None:
        return "\u2013"
    better = (relative > 0) == METRICS[metric][1]
    colour = "green" if better else "red"
    return f"[{colour}]{relative:+.0%}[/{colour}]" if relative else "0%"


def shown_metrics(table: ComparisonTable) -> list[str]:
    """The metrics to show: SLO capacity only when a side has one (sweeps)."""
    sides = [side for row in table.rows for side in (row.a, row.b) if side is not None]
    has_capacity = any(side.slo_capacity_per_s is not None for side in sides)
    return [m for m in METRICS if m != "slo_capacity_per_s" or has_capacity]


def render_table(table: ComparisonTable) -> Table:
    """A rich Table: each metric as a, b and relative change (green = better)."""
    rich_table = Table(title=f"{table.label_a} \u2192 {table.label_b}")
    rich_table.add_column("run")
    metrics = shown_metrics(table)
    for label, _ in (METRICS[m] for m in metrics):
        rich_table.add_column(f"{label}\n{table.label_a}", justify="right")
        rich_table.add_column(f"{label}\n{table.label_b}", justify="right")
        rich_table.add_column("\u0394", justify="right")
    for row in table.rows:
        cells = [f"{row.mode} x{row.workers}"]
        for metric in metrics:
            cells += [_side(row.a, metric), _side(row.b, metric), _change(row, metric)]
        rich_table.add_row(*cells)
    return rich_table


def plot_comparison(table: ComparisonTable, path: Path | str) -> Path:
    """Grouped bars of every metric, a beside b, one panel per metric."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = shown_metrics(table)
    figure = Figure(figsize=(4.0 * len(metrics), 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(metrics))
    labels = [f"{row.mode} x{row.workers}" for row in table.rows]
    positions = list(range(len(table.rows)))
    for ax, metric in zip(axes, metrics, strict=True):
        title = METRICS[metric][0]
        for offset, side, name in ((-0.2, "a", table.label_a), (0.2, "b", table.label_b)):
            values = [
                getattr(getattr(row, side), metric, None) if getattr(row, side) else None
                for row in table.rows
            ]
            ax.bar(
                [p + offset for p in positions], [v or 0.0 for v in values], width=0.4, label=name
            )
        ax.set_xticks(positions, labels, rotation=45, ha="right")
        ax.set_title(title)
    axes[0].legend(fontsize="small")
    path = Path(path)
    figure.savefig(path, format="png", dpi=100)
    return path
