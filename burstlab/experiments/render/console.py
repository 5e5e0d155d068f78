"""The summary table printed at the end of ``burstlab run``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from burstlab.experiments.render.tables import FLAG, fmt


def _theory_cells(run: Mapping[str, Any]) -> tuple[str, str]:
    """The drain's prediction and deviation: the replayed one with its band where the run was
    replayed, else the closed form's."""
    check = (run.get("prediction") or {}).get("checks", {}).get("drain_s")
    band = ""
    if check:
        band = f" ({fmt(check['low'], 2)}\u2013{fmt(check['high'], 2)})"
    else:
        check = (run.get("theory") or {}).get("checks", {}).get("drain_s")
    if not check:
        return "\u2013", "\u2013"
    deviation = check["deviation"]
    flag = f" {FLAG}" if check["flagged"] else ""
    return fmt(check["predicted"], 2) + band, f"{deviation * 100:+.0f}%{flag}"


def summary_table(summary: Mapping[str, Any]) -> Table:
    """One row per (mode, workers) run: counts, throughput, latency, drain vs prediction."""
    table = Table(title=f"burstlab run: {summary['scenario']}", title_justify="left")
    for name in (
        "run",
        "offered",
        "done",
        "lost",
        "jobs/s",
        "accept p99 ms",
        "latency p50 ms",
        "latency p99 ms",
        "drain s",
        "predicted s (band)",
        "dev",
        "peak backlog",
    ):
        table.add_column(name, justify="left" if name == "run" else "right")
    for run in summary["runs"]:
        predicted, dev = _theory_cells(run)
        lag = f" {FLAG} gen. lag" if run.get("generator_fell_behind") else ""
        table.add_row(
            f"{run['mode']} x{run['workers']}{lag}",
            fmt(run["offered"]),
            fmt(run["completed"]),
            fmt(run["lost"]),
            fmt(run["throughput_per_s"]),
            fmt(run["accept_latency_ms"]["p99"]),
            fmt(run["latency_ms"]["p50"]),
            fmt(run["latency_ms"]["p99"]),
            fmt(run["drain_s"], 2),
            predicted,
            dev,
            fmt(run["peak_backlog"]),
        )
    return table
