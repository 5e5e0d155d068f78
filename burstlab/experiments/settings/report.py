"""The worker-settings report: one row of figures per cell, then the plain verdict table."""

from __future__ import annotations

import math

from burstlab.experiments.settings.results import FAST_EFFICIENCY, CellResult, best, verdict_rows
from burstlab.scenario.worker_settings import Matrix


def _f(value: float, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _eff(median: float, spread: tuple[float, float]) -> str:
    return f"{median:.2f} ({spread[0]:.2f}-{spread[1]:.2f})"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render_report(results: list[CellResult], matrix: Matrix, *, replicas: int) -> str:
    """Markdown: the workloads, the figures per cell, and which settings are safe and fast."""
    m = matrix
    lines = [
        "# Worker settings",
        "",
        f"{replicas} worker replicas, {m.concurrency} processes in all (a solo pool runs one per "
        f"replica). Each cell: {m.io_jobs} io jobs of {m.io_ms:g} ms at once; {m.cpu_jobs} cpu "
        f"jobs of {m.cpu_ms:g} ms at once; {m.long_jobs} long io jobs ({m.long_ms:g} ms, "
        f"fewer than the processes) then {m.short_jobs} short ones ({m.short_ms:g} ms); "
        f"{m.kill_jobs} io jobs of {m.kill_ms:g} ms during which one replica is "
        "SIGKILLed (and restarted).",
        "",
        f"Overhead and efficiency: medians of {m.repeats} bursts of each kind (efficiency "
        "range in brackets). Overhead: per task per process, drain x processes / jobs - job "
        "time. Efficiency: of N/S (cpu: N capped at the cores). Held: jobs taken from the "
        "list by the workers and "
        "not finished, which a queue-length metric does not count (peak, and share of the "
        "backlog at half drain). Short p99: accepted to finished, of the short jobs submitted "
        "after the long ones; stuck: short jobs that took longer than a long job.",
        "",
    ]
    header = [
        "settings", "io overhead ms", "io eff.", "cpu overhead ms", "cpu eff.",
        "held peak", "held share", "short p99 ms", "shorts stuck", "lost / killed burst",
    ]  # fmt: skip
    rows = [
        [
            r.settings.label,
            _f(r.io_overhead_ms),
            _eff(r.io_efficiency, r.io_efficiency_range),
            _f(r.cpu_overhead_ms),
            _eff(r.cpu_efficiency, r.cpu_efficiency_range),
            str(r.held_peak),
            _f(r.held_share_half, 2),
            _f(r.short_p99_ms, 0),
            f"{r.short_stuck} / {m.short_jobs}",
            f"{r.killed_lost} / {r.kill_accepted}",
        ]
        for r in results
    ]
    lines += _table(header, rows)
    lines += [
        "",
        f"## Which settings are safe and fast (fast: efficiency >= {FAST_EFFICIENCY:g} of N/S)",
        "",
    ]
    lines += _table(
        ["settings", "safe (nothing lost)", "io jobs", "cpu jobs"], verdict_rows(results)
    )
    lines.append("")
    for kind in ("io", "cpu"):
        top = best(results, kind)
        pick = top.settings.label if top else "none: every cell lost jobs"
        lines.append(f"- Fastest safe settings for {kind} jobs: {pick}")
    return "\n".join(lines) + "\n"
