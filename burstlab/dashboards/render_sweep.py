"""Draw the dashboard's sweep panels from Prometheus: one point per step, as Grafana does.

The panels' targets are instant queries over Grafana's ``$__range``; here the range is the one
being drawn, and the queries are evaluated at its end. Their results are joined on their labels
(as the panels' ``merge`` transformation does) into one row per step (curve) or per worker
count (capacity), then drawn one line per scenario and mode (and worker count).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from burstlab.dashboards.files import evaluable
from burstlab.telemetry.prometheus_api import PrometheusClient

MODE_COLORS = {"sync": "#1f77b4", "async": "#ff7f0e"}
_SLO = "max_over_time(burstlab_experiment_slo_p99_seconds[{window}])"
Row = tuple[dict[str, str], list[float]]
"""A row of joined results: its labels, and one value per target (NaN where it has none)."""


def range_window(start: float, end: float) -> str:
    """What Grafana's ``$__range`` is for a time range: its length, in whole seconds."""
    return f"{max(1, round(end - start))}s"


def join_rows(results: Sequence[list[dict[str, Any]]], keys: Sequence[str]) -> list[Row]:
    """Instant-query results (one list of samples per target) joined on the label ``keys``."""
    rows: dict[tuple[str, ...], list[float]] = {}
    for index, samples in enumerate(results):
        for sample in samples:
            key = tuple(sample["metric"].get(k, "") for k in keys)
            row = rows.setdefault(key, [math.nan] * len(results))
            row[index] = float(sample["value"][1])
    return [(dict(zip(keys, key, strict=True)), values) for key, values in sorted(rows.items())]


def _query(client: PrometheusClient, panel: dict[str, Any], start: float, end: float) -> list[Any]:
    window = range_window(start, end)
    return [client.query(evaluable(t["expr"], window), at=end) for t in panel["targets"]]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _lines(rows: list[Row], group: Sequence[str], order: str) -> dict[tuple[str, ...], list[Row]]:
    lines: dict[tuple[str, ...], list[Row]] = {}
    for labels, values in rows:
        lines.setdefault(tuple(labels[k] for k in group), []).append((labels, values))
    for members in lines.values():
        members.sort(key=lambda row: _number(row[0][order]))
    return lines


def _empty(ax: Any, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in this range", ha="center", va="center", transform=ax.transAxes)


def draw_latency_curve(
    ax: Any, client: PrometheusClient, panel: dict[str, Any], start: float, end: float
) -> None:
    """Each step's throughput (first target) against its p99 (second), a line per run."""
    keys = ("scenario", "mode", "workers", "rho")
    rows = join_rows(_query(client, panel, start, end), keys)
    rows = [(labels, v) for labels, v in rows if all(math.isfinite(x) for x in v)]
    styles = ("-", "--", ":", "-.")
    workers = sorted({labels["workers"] for labels, _ in rows}, key=_number)
    for (scenario, mode, count), members in _lines(rows, keys[:3], "rho").items():
        ax.plot(
            [values[0] for _, values in members],
            [values[1] for _, values in members],
            styles[workers.index(count) % len(styles)],
            marker="o",
            markersize=4,
            color=MODE_COLORS.get(mode, "#2ca02c"),
            label=f"{scenario} {mode} ×{count}",
        )
    slo = [
        float(s["value"][1])
        for s in client.query(_SLO.format(window=range_window(start, end)), at=end)
    ]
    if rows and slo and slo[0] > 0:
        ax.axhline(slo[0], color="#d62728", linestyle="--", linewidth=1, label="p99 SLO")
    if not rows:
        _empty(ax, "sweep steps")
    else:
        ax.set_yscale("log")
    ax.set_xlabel("completed jobs / s (step mean)")
    ax.set_ylabel("p99 end-to-end, seconds (step mean)")


def draw_capacity(
    ax: Any, client: PrometheusClient, panel: dict[str, Any], start: float, end: float
) -> None:
    """Throughput within the SLO (first target) and peak (second) against workers, per mode."""
    keys = ("scenario", "mode", "workers")
    rows = join_rows(_query(client, panel, start, end), keys)
    for (scenario, mode), members in _lines(rows, keys[:2], "workers").items():
        counts = [_number(labels["workers"]) for labels, _ in members]
        color = MODE_COLORS.get(mode, "#2ca02c")
        for index, (name, style) in enumerate((("within SLO", "-"), ("peak", ":"))):
            ax.plot(
                counts,
                [values[index] for _, values in members],
                style,
                marker="o",
                markersize=4,
                color=color,
                label=f"{scenario} {mode}: {name}",
            )
    if not rows:
        _empty(ax, "sweep steps")
    ax.set_xlabel("workers")
    ax.set_ylabel("jobs / s")
    ax.set_ylim(bottom=0)
