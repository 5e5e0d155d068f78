"""Report tables built from a summary dict, as plain strings ready for Markdown or HTML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FLAG = "\u26a0"


@dataclass(frozen=True)
class TableData:
    """A titled table of pre-formatted cells."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def fmt(value: object, digits: int = 1) -> str:
    """A cell: en dash for missing, fixed decimals for floats."""
    if value is None:
        return "\u2013"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _label(run: Mapping[str, Any]) -> str:
    return f"{run['mode']} x{run['workers']}"


def runs_table(runs: list[Mapping[str, Any]]) -> TableData:
    """Counts, throughput, drain, backlog and generator health per run."""
    rows = tuple(
        (
            _label(r),
            fmt(r["offered"]),
            fmt(r["completed"]),
            fmt(r["rejected"]),
            fmt(r["lost"]),
            fmt(r.get("errors")),
            fmt(r["throughput_per_s"]),
            fmt(r["drain_s"], 2),
            fmt(r["peak_backlog"]),
            fmt(r["generator_lag_ms"]["p99"], 2)
            + (f" {FLAG}" if r["generator_fell_behind"] else ""),
        )
        for r in runs
    )
    headers = (
        "run",
        "offered",
        "completed",
        "rejected",
        "lost",
        "errors",
        "throughput /s",
        "drain s",
        "peak backlog",
        "gen. lag p99 ms",
    )
    return TableData("Runs", headers, rows)


def latency_table(runs: list[Mapping[str, Any]]) -> TableData:
    """Corrected latency percentiles, with uncorrected p99, accept p99 and queue wait p99 beside."""
    rows = []
    for r in runs:
        lat = r["latency_ms"]
        rows.append(
            (
                _label(r),
                *(fmt(lat[k]) for k in ("p50", "p90", "p99", "p999", "max", "mean")),
                fmt(r["latency_uncorrected_ms"]["p99"]),
                fmt(r["accept_latency_ms"]["p99"]),
                fmt(r["queue_wait_ms"]["p99"]),
                fmt(r["service_ms"]["p50"]),
            )
        )
    headers = (
        "run",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "mean",
        "uncorrected p99",
        "accept p99",
        "queue wait p99",
        "service p50",
    )
    return TableData("Latency (ms, from intended send)", headers, tuple(rows))


def theory_table(runs: list[Mapping[str, Any]]) -> TableData:
    """The closed forms' predictions vs measured per run and metric, the cross-check beside the
    queue replay; deviations past the tolerance get a flag."""
    rows = []
    for r in runs:
        for metric, check in (r.get("theory") or {}).get("checks", {}).items():
            dev = check["deviation"]
            rows.append(
                (
                    _label(r),
                    metric,
                    fmt(check["predicted"], 3),
                    fmt(check["measured"], 3),
                    f"{dev:+.0%}",
                    FLAG if check["flagged"] else "",
                )
            )
    headers = ("run", "metric", "predicted", "measured", "deviation", "")
    return TableData("Closed forms vs measured (cross-check)", headers, tuple(rows))


def thresholds_table(checks: list[Mapping[str, Any]]) -> TableData:
    """Threshold results: pass, FAIL, or n/a when the runs lacked the data."""
    verdicts = {True: "pass", False: f"FAIL {FLAG}", None: "n/a"}
    rows = tuple(
        (c["name"], c["subject"], fmt(c["limit"], 2), fmt(c["measured"], 2), verdicts[c["passed"]])
        for c in checks
    )
    return TableData("Thresholds", ("threshold", "run", "limit", "measured", "result"), rows)


def report_tables(
    summary: Mapping[str, Any], predictions: Sequence[TableData] = ()
) -> list[TableData]:
    """All tables of a report, skipping empty ones; ``predictions`` go before the closed forms."""
    runs = list(summary.get("runs", []))
    tables = [runs_table(runs), latency_table(runs), *predictions, theory_table(runs)]
    tables.append(thresholds_table(list(summary.get("thresholds", []))))
    return [t for t in tables if t.rows]
