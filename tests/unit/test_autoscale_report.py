"""The autoscale report: both plots and the tables, from a summary alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from burstlab.experiments.autoscale.figures import deviations
from burstlab.experiments.autoscale.report import write_autoscale_report


def _run(policy: str, p99: float, cost: float, replicas: list[int]) -> dict[str, Any]:
    timeline = [
        {"t_s": 2.0 * i, "epoch_s": 100.0 + 2 * i, "metric": 10.0 * n, "backlog": 10.0 * n + 2,
         "raw": n, "desired": n, "requested": n, "ready": n}
        for i, n in enumerate(replicas)
    ]  # fmt: skip
    figures = {"drain_s": 9.0, "peak_backlog": 50, "p99_ms": p99, "worker_seconds": cost}
    return {
        "mode": "async",
        "policy": policy,
        "workers": 2,
        "lost": 0,
        "peak_backlog": 50,
        "latency_ms": {"p50": p99 / 2, "p99": p99},
        "burst_window_s": [2.0, 6.0],
        "load_start_epoch": 100.0,
        "timeline": timeline,
        "autoscale": {"worker_seconds": cost, "peak_replicas": max(replicas), "drain_s": 9.0,
                      "duplicated": 0, "ran_again": 0, "redelivered_done": 0},
        "prediction": {**figures, "p99_ms": p99 * 1.5,
                       "timeline": [{"t_s": p["t_s"], "backlog": p["backlog"]} for p in timeline]},
        "deviations": {"p99_ms": {"measured": p99, "predicted": p99 * 1.5,
                                  "deviation": -1 / 3, "flagged": True}},
    }  # fmt: skip


def test_the_report_has_both_plots_the_verdict_and_flags_a_large_deviation(
    tmp_path: Path,
) -> None:
    summary = {
        "scenario": "s",
        "description": "d",
        "slo_p99_ms": 1000.0,
        "runs": [
            _run("fixed-min", 9000.0, 40.0, [1, 1, 1, 1]),
            _run("fixed-max", 100.0, 160.0, [4, 4, 4, 4]),
            _run("autoscale", 800.0, 100.0, [1, 3, 4, 1]),
        ],
    }
    files = write_autoscale_report(tmp_path, summary)
    names = {f.name for f in files}
    assert {"autoscale.png", "cost_p99.png", "report.md", "report.html"} <= names
    assert (tmp_path / "autoscale.png").read_bytes()[:4] == b"\x89PNG"
    text = (tmp_path / "report.md").read_text()
    # autoscale: 100 worker-seconds against 160 at fixed max
    assert "100.0 vs 160.0 (-38%)" in text
    assert "| async autoscale | 400.0 | 800.0 | yes |" in text
    assert "| async fixed-min | 4,500.0 | 9,000.0 | no |" in text
    assert "⚠" in text


def test_a_peak_backlog_of_a_handful_of_jobs_is_shown_not_compared() -> None:
    figures = {"drain_s": 10.0, "peak_backlog": 2, "p99_ms": 90.0, "worker_seconds": 700.0}
    predicted = {"drain_s": 10.1, "peak_backlog": 0.12, "p99_ms": 95.0, "worker_seconds": 710.0}
    out = deviations(figures, predicted)
    assert out["peak_backlog"] == {
        "measured": 2, "predicted": 0.12, "deviation": None, "flagged": False,
    }  # fmt: skip
    # A real queue is compared as before
    assert deviations({**figures, "peak_backlog": 80}, {**predicted, "peak_backlog": 40.0})[
        "peak_backlog"
    ]["flagged"]
