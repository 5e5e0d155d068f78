"""The report's tables for a run on a user's Celery task: what was measured and how it varied.

Empty for runs of burstlab's own jobs. ``summary["task_target"]`` names the task and what
burstlab set in its workers of the app; each run's ``probe["distribution"]`` is the service
time of sequential jobs before the load, its ``service_measured`` the same under the load; with
both sides run, ``shared_distribution`` is their probes pooled, the one distribution both
predictions draw from, shown once per worker count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from burstlab.experiments.render.tables import TableData, fmt


def _pct(value: object) -> str:
    return "\u2013" if not isinstance(value, int | float) else f"{value * 100:.0f} %"


def _distribution_cells(figures: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        fmt(figures.get("count"), 0),
        fmt(figures.get("mean_ms")),
        fmt(figures.get("cv"), 2),
        fmt(figures.get("p50_ms")),
        fmt(figures.get("p99_ms")),
        _pct(figures.get("cpu_share")),
    )


def _label(run: Mapping[str, Any]) -> str:
    """``async x4``, or ``async autoscale`` for an autoscaled run's policy."""
    return (
        f"{run['mode']} {run['policy']}" if "policy" in run else f"{run['mode']} x{run['workers']}"
    )


def task_tables(summary: Mapping[str, Any]) -> list[TableData]:
    """The task, what burstlab overrode, and the service-time distribution per run."""
    target = summary.get("task_target")
    if not target:
        return []
    about = TableData(
        "Your task",
        ("", ""),
        (
            ("app", str(target["app"])),
            ("task", str(target["task"])),
            ("queue", str(target["queue"])),
            ("payloads", f"{target['payloads']} ({target['payload_lines']} lines, cycled)"),
            ("sync side", target.get("sync_url") or "the baseline calls the task's function"),
        ),
    )
    overrides = TableData(
        "What burstlab set in its workers of your app (everything else is your configuration)",
        ("setting", "value", "why"),
        tuple(
            (str(o["setting"]), str(o["value"]), str(o["reason"]))
            for o in target.get("overrides", [])
        ),
    )
    heads = ("n", "mean ms", "CV", "p50 ms", "p99 ms", "CPU share")
    rows = []
    shown: set[int] = set()
    for run in summary.get("runs", []):
        label = _label(run)
        probe = (run.get("probe") or {}).get("distribution")
        shared = run.get("shared_distribution")
        if shared:
            # One distribution behind both sides' predictions: shown once per worker count
            if run["workers"] not in shown:
                shown.add(run["workers"])
                sides = " and ".join(shared.get("sides", ()))
                apart = shared.get("kept_apart") or 0
                kept = (
                    f" ({apart} probes that ended otherwise on each side kept to their side)"
                    if apart
                    else ""
                )
                kept += "".join(
                    f"; the {mode} side's runs of the same lines {fmt(ms, 2)} ms longer, "
                    "counted as its pipeline's per job"
                    for mode, ms in (shared.get("run_excess_ms") or {}).items()
                    if ms
                )
                rows.append(
                    (
                        f"x{run['workers']}",
                        f"probes, {sides} pooled: what both predictions draw from{kept}",
                        *_distribution_cells(shared),
                    )
                )
        elif probe:
            rows.append((label, "probe, unloaded", *_distribution_cells(probe)))
        if run.get("service_measured"):
            rows.append((label, "under the load", *_distribution_cells(run["service_measured"])))
    service = TableData(
        "Measured service time (started to finished, per job)",
        ("run", "when", *heads),
        tuple(rows),
    )
    outcomes = TableData(
        "How your task's jobs ended",
        ("run", "offered", "succeeded", "failed", "of them timed out", "retried", "lost"),
        tuple(
            (
                _label(run),
                fmt(run.get("offered"), 0),
                fmt(run.get("completed"), 0),
                fmt(run.get("failed"), 0),
                fmt(run.get("timed_out"), 0),
                fmt(run.get("retried"), 0),
                fmt(run.get("lost"), 0),
            )
            for run in summary.get("runs", [])
        ),
    )
    return [t for t in (about, overrides, service, outcomes) if t.rows]
