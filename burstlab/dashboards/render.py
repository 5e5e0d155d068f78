"""Draw dashboard panels with matplotlib from Prometheus range queries (Grafana is not here).

Each panel is drawn from the very targets of the "Sync vs Async" dashboard JSON: the same
PromQL, the same legends, queried from Prometheus' HTTP API over a time range. Bursts marked by
the experiment runner (``burstlab_experiment_burst_active``) are shaded on every time panel. The
sweep panels (one point per step) are drawn by :mod:`burstlab.dashboards.render_sweep`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from burstlab.dashboards.files import DASHBOARDS_DIR, load_dashboard, panels
from burstlab.dashboards.render_sweep import MODE_COLORS, draw_capacity, draw_latency_curve
from burstlab.dashboards.sweep import CAPACITY_PANEL, LATENCY_CURVE_PANEL
from burstlab.telemetry.prometheus_api import PrometheusClient

SYNC_VS_ASYNC = DASHBOARDS_DIR / "sync-vs-async.json"
OFFERED_PANEL = "Offered vs completed jobs per second, per mode"
BACKLOG_PANEL = "Backlog: async queued + reserved, sync waiting + in flight"
"""The two panels ``burstlab monitor verify`` checks against the ground truth."""
KEY_PANELS = (
    OFFERED_PANEL,
    "End-to-end latency p50 / p95 / p99, per mode",
    "Where the time goes: mean queue wait + service, per mode",
    BACKLOG_PANEL,
    "Busy workers, per side",
    "Latency vs throughput, per mode",
)
"""The panels the README shows, in reading order."""
SWEEP_PANELS = (LATENCY_CURVE_PANEL, CAPACITY_PANEL)
"""The panels a sweep fills: one point per step."""
_SWEEP_DRAWERS = {LATENCY_CURVE_PANEL: draw_latency_curve, CAPACITY_PANEL: draw_capacity}
_STYLES = ("-", "--", ":", "-.")
_UNIT_LABELS = {"s": "seconds", "reqps": "jobs / s", "percentunit": "fraction", "short": ""}
_BURST_ACTIVE = "burstlab_experiment_burst_active"
_PHASE_STARTED = "burstlab_experiment_phase_started_timestamp_seconds"


Series = tuple[str, list[float], list[float], str | None]
"""(legend, times relative to the start in s, values, mode)."""


def _legend(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


def _mode_of(legend: str, labels: dict[str, str]) -> str | None:
    if labels.get("mode") in MODE_COLORS:
        return labels["mode"]
    words = legend.split()
    return next((w for w in reversed(words) if w in MODE_COLORS), None)


def _series(
    client: PrometheusClient, target: dict[str, Any], start: float, end: float, step_s: float
) -> list[Series]:
    found: list[Series] = []
    for result in client.query_range(target["expr"], start, end, step_s):
        labels = result["metric"]
        legend = _legend(target.get("legendFormat", ""), labels) or target["expr"]
        times = [float(t) - start for t, _ in result["values"]]
        values = [float(v) for _, v in result["values"]]
        found.append((legend, times, values, _mode_of(legend, labels)))
    return sorted(found, key=lambda s: s[0])


def _bursts(
    client: PrometheusClient, start: float, end: float, step_s: float
) -> list[tuple[float, float]]:
    """Burst phases as exact (start, end) offsets, from the phases' own start timestamps.

    A scrape sees a phase change up to one interval late; the phase's start time is exact.
    """
    phases: list[tuple[float, bool]] = []  # (phase start, is a burst), in order
    active = {
        float(t): float(v)
        for result in client.query_range(_BURST_ACTIVE, start, end, step_s)
        for t, v in result["values"]
    }
    for result in client.query_range(_PHASE_STARTED, start, end, step_s):
        for t, v in result["values"]:
            began = float(v)
            if began > 0 and (not phases or phases[-1][0] != began):
                phases.append((began, active.get(float(t), 0.0) >= 1))
    spans = []
    for index, (began, burst) in enumerate(phases):
        if burst:
            ended = phases[index + 1][0] if index + 1 < len(phases) else end
            spans.append((began - start, ended - start))
    return spans


def _color(mode: str | None, index: int) -> str:
    if mode is not None:
        return MODE_COLORS[mode]
    return ("#2ca02c", "#9467bd", "#8c564b", "#7f7f7f")[index % 4]


def _draw_lines(ax: Any, panel: dict[str, Any], series_by_target: list[list[Series]]) -> None:
    defaults = panel["fieldConfig"]["defaults"]
    for index, series in enumerate(series_by_target):
        for legend, times, values, mode in series:
            ax.plot(
                times,
                [v if math.isfinite(v) else math.nan for v in values],
                _STYLES[index % len(_STYLES)],
                color=_color(mode, index),
                label=legend,
                linewidth=1.6,
            )
    if defaults.get("custom", {}).get("scaleDistribution", {}).get("type") == "log":
        ax.set_yscale("log")
    elif "min" in defaults:
        ax.set_ylim(bottom=defaults["min"])
    ax.set_ylabel(_UNIT_LABELS.get(defaults.get("unit", ""), ""))


def _draw_stacked_bars(ax: Any, series_by_target: list[list[Series]], step_s: float) -> None:
    """Queue wait under service, one bar per mode at each step (the dashboard's stacking)."""
    width = step_s * 0.42
    offsets = {"sync": -width / 2, "async": width / 2}
    bottoms: dict[tuple[str, float], float] = {}
    for index, series in enumerate(series_by_target):
        for legend, times, values, mode in series:
            if mode is None:
                continue
            xs = [t + offsets[mode] for t in times]
            heights = [v if math.isfinite(v) else 0.0 for v in values]
            base = [bottoms.get((mode, t), 0.0) for t in times]
            ax.bar(
                xs,
                heights,
                width=width,
                bottom=base,
                color=MODE_COLORS[mode],
                alpha=0.45 if index == 0 else 0.95,
                hatch="//" if index == 0 else None,
                label=legend,
                edgecolor="white",
                linewidth=0.3,
            )
            for t, h, b in zip(times, heights, base, strict=True):
                bottoms[(mode, t)] = b + h
    ax.set_ylabel("seconds (mean)")


def _draw_xy(ax: Any, series_by_target: list[list[Series]]) -> None:
    """Throughput (first target) against latency (second), joined on time, per mode."""
    xs = {mode: dict(zip(t, v, strict=True)) for _, t, v, mode in series_by_target[0]}
    for _, times, values, mode in series_by_target[1]:
        points = [
            (xs.get(mode, {}).get(t, math.nan), v)
            for t, v in zip(times, values, strict=True)
            if math.isfinite(v)
        ]
        points = [(x, y) for x, y in points if math.isfinite(x) and x > 0]
        if points:
            ax.scatter(
                [x for x, _ in points],
                [y for _, y in points],
                s=18,
                color=_color(mode, 0),
                label=f"{mode}: p95 vs completed/s",
                alpha=0.8,
            )
    ax.set_xlabel("completed jobs / s")
    ax.set_ylabel("p95 end-to-end, seconds")
    ax.set_yscale("log")


def render_panels(
    prometheus_url: str,
    start: float,
    end: float,
    out_path: Path,
    *,
    dashboard_path: Path = SYNC_VS_ASYNC,
    titles: Iterable[str] = KEY_PANELS,
    step_s: float = 1.0,
) -> Path:
    """Query every target of the ``titles`` panels over ``[start, end]`` and save a PNG grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    client = PrometheusClient(prometheus_url)
    by_title = {panel["title"]: panel for panel in panels(load_dashboard(dashboard_path))}
    chosen = [by_title[title] for title in titles]
    bursts = _bursts(client, start, end, step_s)
    columns = 2
    rows = math.ceil(len(chosen) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(15, 4.2 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, chosen, strict=False):
        if panel["title"] in _SWEEP_DRAWERS:
            _SWEEP_DRAWERS[panel["title"]](ax, client, panel, start, end)
        elif panel["type"] == "xychart":
            _draw_xy(ax, [_series(client, t, start, end, step_s) for t in panel["targets"]])
        else:
            series = [_series(client, t, start, end, step_s) for t in panel["targets"]]
            for begin, finish in bursts:
                ax.axvspan(begin, finish, color="#d62728", alpha=0.08, linewidth=0)
            if panel["fieldConfig"]["defaults"]["custom"].get("drawStyle") == "bars":
                _draw_stacked_bars(ax, series, step_s)
            else:
                _draw_lines(ax, panel, series)
            ax.set_xlabel("seconds since start" + ("  (shaded: bursts)" if bursts else ""))
            ax.set_xlim(0, end - start)
        ax.set_title(panel["title"], fontsize=11, loc="left")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, ncol=2, loc="best", framealpha=0.85)
    for ax in list(axes.flat)[len(chosen) :]:
        ax.set_visible(False)
    when = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M UTC")
    fig.suptitle(
        f"burstlab — Sync vs Async dashboard panels, from Prometheus query results ({when}, "
        f"{end - start:.0f} s, {step_s:g} s steps)",
        fontsize=13,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path
