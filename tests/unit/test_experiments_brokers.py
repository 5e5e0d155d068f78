"""One report for a run on two brokers: drain, ideal drain, per-task overhead, lost, duplicates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from burstlab.experiments.brokers.report import write_brokers_report


def _run(
    mode: str, workers: int, drain_s: float, *, lost: int = 0, duplicated: int | None = None
) -> dict[str, Any]:
    """A run of 200 jobs of 50 ms whose drain took ``drain_s``."""
    run: dict[str, Any] = {
        "mode": mode,
        "workers": workers,
        "drain_s": drain_s,
        "throughput_per_s": 200 / drain_s,
        "accept_latency_ms": {"p99": 9.0},
        "lost": lost,
        "errors": 0,
        "drain_overhead": {
            "jobs": 200,
            "job_ms": 50.0,
            "ideal_drain_s": -(-200 // workers) * 0.05,
            "per_task_ms": drain_s * 1000 * workers / 200 - 50.0,
        },
    }
    if duplicated is not None:
        run["duplicated"] = duplicated
    return run


def _folder(root: Path, broker: str, runs: list[dict[str, Any]], passed: bool = True) -> Path:
    folder = root / broker
    folder.mkdir()
    summary = {"scenario": "burst", "description": "a burst", "seed": 42, "broker": broker,
               "runs": runs, "passed": passed}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_both_brokers_runs_are_reported_side_by_side_with_their_per_task_overhead(
    tmp_path: Path,
) -> None:
    # Given a Redis and a RabbitMQ results folder, sync and async on 1 and 4 workers, one job
    # lost on RabbitMQ's async x4 run
    redis = _folder(
        tmp_path, "redis",
        [_run("sync", 1, 11.0), _run("async", 1, 10.5, duplicated=0),
         _run("async", 4, 2.75, duplicated=1)],
    )  # fmt: skip
    rabbitmq = _folder(
        tmp_path, "rabbitmq",
        [_run("sync", 1, 11.0), _run("async", 1, 10.8, duplicated=0),
         _run("async", 4, 3.0, lost=1, duplicated=0)],
        passed=False,
    )  # fmt: skip
    # When the brokers report is written beside them
    table, files = write_brokers_report(tmp_path, {"redis": redis, "rabbitmq": rabbitmq})
    # Then each run shows both brokers in a row each, in the order given
    assert [(row[0], row[1]) for row in table.rows] == [
        ("sync x1", "redis"), ("sync x1", "rabbitmq"), ("async x1", "redis"),
        ("async x1", "rabbitmq"), ("async x4", "redis"), ("async x4", "rabbitmq"),
    ]  # fmt: skip
    # And async x4 on Redis: drain 2.75 s against ceil(200 / 4) x 50 ms = 2.5 s, that is
    # 2.75 x 4 / 200 - 0.05 s = 5 ms of overhead per job and process, 1 duplicate delivery
    cells = dict(zip(table.headers, table.rows[4], strict=True))
    assert cells["drain s"] == "2.75" and cells["ideal s"] == "2.50"
    assert cells["overhead ms"] == "5.0" and cells["duplicated"] == "1"
    # And a sync run has no duplicate count (nothing is redelivered), shown as a dash
    assert dict(zip(table.headers, table.rows[0], strict=True))["duplicated"] == "\u2013"
    # And summary.json carries the same figures per broker, the lost job and the verdicts
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["lost"] == 1 and summary["passed"] is False
    assert summary["brokers"]["redis"]["passed"] is True
    x4 = summary["brokers"]["rabbitmq"]["runs"][2]
    assert (x4["mode"], x4["workers"], x4["lost"]) == ("async", 4, 1)
    assert x4["per_task_ms"] == 10.0
    assert "runs" not in summary  # not a single results folder: `burstlab compare` reads those
    # And report.md has the table, the definitions and links to each broker's report
    markdown = files[0].read_text()
    assert files[0].name == "report.md" and "# burst on redis and rabbitmq" in markdown
    assert "| async x4 | rabbitmq | 200 | 3.00 | 2.50 | 10.0 |" in markdown
    assert "drain x N / jobs - job time" in markdown and "Jobs lost: 1." in markdown
    assert "[rabbitmq](rabbitmq/report.md)" in markdown
