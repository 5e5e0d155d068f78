"""Prometheus against the ground truth: the dashboard's own queries beside jobs.csv.

The offered, completed and backlog series are queried with the very expressions of the
"Sync vs Async" dashboard panels that ``burstlab monitor render`` draws, at 1 s steps; totals
are the producer's counters read at the end of the run (exact, unlike ``increase()``, which
extrapolates). :func:`compare` sets them beside the series rebuilt from the run's rows
(:mod:`burstlab.experiments.monitor.ground_truth`) and checks each difference against its bound.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burstlab.dashboards.files import load_dashboard, panels, rule_queries
from burstlab.dashboards.render import BACKLOG_PANEL, OFFERED_PANEL, SYNC_VS_ASYNC
from burstlab.experiments.monitor.ground_truth import ModeSeries, Series
from burstlab.telemetry.prometheus_api import PrometheusClient

SUBMITTED_TOTAL = "sum by (mode) (burstlab_jobs_submitted_total)"
COMPLETED_TOTAL = "sum by (mode) (burstlab_jobs_completed_total)"


@dataclass(frozen=True)
class PanelQueries:
    """The PromQL of the series checked, taken from the dashboard, and its rate window."""

    offered: str
    completed: str
    backlog: str
    window_s: float


def _target(panel: dict[str, Any], legend_prefix: str) -> str:
    for target in panel["targets"]:
        if str(target.get("legendFormat", "")).startswith(legend_prefix):
            return str(target["expr"])
    raise LookupError(f"panel {panel['title']!r} has no target {legend_prefix!r}")


def rate_window_s(expr: str) -> float:
    """The range of the ``rate(...[Ns])`` behind ``expr``, itself or its recording rule."""
    texts = [expr] + [q.expr for q in rule_queries() if q.source.endswith(f": {expr}")]
    for text in texts:
        found = re.search(r"rate\([^\[]*\[(\d+(?:\.\d+)?)s\]", text)
        if found:
            return float(found.group(1))
    raise LookupError(f"no rate window in {expr!r} or its recording rule")


def panel_queries(dashboard_path: Path = SYNC_VS_ASYNC) -> PanelQueries:
    """The offered, completed and backlog expressions the rendered panels draw."""
    by_title = {panel["title"]: panel for panel in panels(load_dashboard(dashboard_path))}
    offered = _target(by_title[OFFERED_PANEL], "offered")
    return PanelQueries(
        offered=offered,
        completed=_target(by_title[OFFERED_PANEL], "completed"),
        backlog=_target(by_title[BACKLOG_PANEL], "backlog"),
        window_s=rate_window_s(offered),
    )


def _by_mode(client: PrometheusClient, expr: str, times: Sequence[float]) -> dict[str, Series]:
    found: dict[str, Series] = {}
    step = times[1] - times[0] if len(times) > 1 else 1.0
    for result in client.query_range(expr, times[0], times[-1], step):
        at = {round(float(t), 3): float(v) for t, v in result["values"]}
        values = tuple(at.get(round(t, 3), math.nan) for t in times)
        found[result["metric"].get("mode", "")] = Series(tuple(times), values)
    return found


def _totals(client: PrometheusClient, expr: str, at: float) -> dict[str, int]:
    return {
        sample["metric"].get("mode", ""): round(float(sample["value"][1]))
        for sample in client.query(expr, at)
    }


def observe(
    client: PrometheusClient,
    queries: PanelQueries,
    modes: Sequence[str],
    times: Sequence[float],
) -> dict[str, ModeSeries]:
    """Each mode's series as Prometheus has them on ``times``, totals at the last instant."""
    empty = Series(tuple(times), tuple(math.nan for _ in times))
    offered = _by_mode(client, queries.offered, times)
    completed = _by_mode(client, queries.completed, times)
    backlog = _by_mode(client, queries.backlog, times)
    before = (
        _totals(client, SUBMITTED_TOTAL, times[0]),
        _totals(client, COMPLETED_TOTAL, times[0]),
    )
    after = (
        _totals(client, SUBMITTED_TOTAL, times[-1]),
        _totals(client, COMPLETED_TOTAL, times[-1]),
    )
    return {
        mode: ModeSeries(
            offered=offered.get(mode, empty),
            completed=completed.get(mode, empty),
            backlog=backlog.get(mode, empty),
            offered_total=after[0].get(mode, 0) - before[0].get(mode, 0),
            completed_total=after[1].get(mode, 0) - before[1].get(mode, 0),
        )
        for mode in modes
    }


@dataclass(frozen=True)
class Bounds:
    """How far Prometheus may be from the ground truth."""

    peak_fraction: float = 0.15
    """Peak offered rate and peak backlog: relative difference."""
    timing_s: float = 2.0
    """Burst start and end: seconds."""


@dataclass(frozen=True)
class Check:
    """One quantity of one mode: the ground truth, what Prometheus showed, and the verdict."""

    mode: str
    quantity: str
    truth: float
    observed: float
    bound: str
    passed: bool

    @property
    def difference(self) -> float:
        return self.observed - self.truth


def _exact(mode: str, quantity: str, truth: int, observed: int) -> Check:
    return Check(mode, quantity, truth, observed, "exact", truth == observed)


def _relative(mode: str, quantity: str, truth: float, observed: float, fraction: float) -> Check:
    within = truth > 0 and abs(observed - truth) <= fraction * truth
    return Check(mode, quantity, truth, observed, f"±{fraction:.0%}", within)


def _timing(
    mode: str, quantity: str, truth: float | None, observed: float | None, bound_s: float
) -> Check:
    bound = f"±{bound_s:g} s"
    if truth is None or observed is None:
        missing = math.nan
        return Check(mode, quantity, truth or missing, observed or missing, bound, False)
    return Check(mode, quantity, truth, observed, bound, abs(observed - truth) <= bound_s)


def compare(
    mode: str, truth: ModeSeries, observed: ModeSeries, bounds: Bounds | None = None
) -> list[Check]:
    """Totals exact; peak offered rate and peak backlog within a fraction; burst edges in time.

    A burst's start and end are the first and last instants its offered rate is at or above
    half its peak, in each series (both seen through the same trailing window). Times are
    epoch seconds.
    """
    bounds = bounds or Bounds()
    truth_span, seen_span = truth.offered.span_above(), observed.offered.span_above()
    return [
        _exact(mode, "offered jobs", truth.offered_total, observed.offered_total),
        _exact(mode, "completed jobs", truth.completed_total, observed.completed_total),
        _relative(
            mode, "peak offered /s", truth.offered.peak(), observed.offered.peak(),
            bounds.peak_fraction,
        ),
        _relative(
            mode, "peak backlog", truth.backlog.peak(), observed.backlog.peak(),
            bounds.peak_fraction,
        ),
        _timing(
            mode, "burst start", truth_span and truth_span[0], seen_span and seen_span[0],
            bounds.timing_s,
        ),
        _timing(
            mode, "burst end", truth_span and truth_span[1], seen_span and seen_span[1],
            bounds.timing_s,
        ),
    ]  # fmt: skip
