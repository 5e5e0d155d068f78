"""``burstlab run`` end to end: open-loop load against a real stack, results, report, thresholds."""

from __future__ import annotations

import contextlib
import csv
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from burstlab.client import Producer
from burstlab.experiments.model.run import RunPlan
from burstlab.experiments.runner import run_experiment
from burstlab.experiments.targets.stacks import Target
from burstlab.scenario.spec import load_scenario
from burstlab.stack.local import LocalStack

TINY = """\
name = "tiny-burst"
description = "40 io jobs of 100 ms at once on 4 workers"
workers = [4]
modes = ["sync", "async"]
timeout_s = 30
drain_timeout_s = 30

[[job]]
kind = "io"
duration_ms = 100

[arrival]
pattern = "burst"
size = 40
at_s = 1.0
window_s = 0.0
base_rate = 0.0
duration_s = 1.1

[thresholds]
max_lost = 0
"""


@pytest.mark.slow
def test_a_tiny_burst_drains_as_predicted_and_writes_every_result_file(
    stack: LocalStack, tmp_path: Path
) -> None:
    # Given a burst of 40 io jobs of 100 ms and a stack with 4 workers on each side
    scenario_file = tmp_path / "tiny.toml"
    scenario_file.write_text(TINY)
    plan = RunPlan(
        scenario=load_scenario(str(scenario_file)),
        modes=("sync", "async"),
        workers=(4,),
        out_dir=tmp_path / "out",
        seed=1,
    )

    @contextlib.contextmanager
    def running(_workers: int) -> Iterator[Target]:
        yield Target(stack.producer_url)

    # When the experiment runs (while the phases it announces are watched: the load phase
    # lasts 1 s, the burst's at least 50 ms, against a 20 ms poll)
    phases_seen: list[str] = []
    stop = threading.Event()

    producer = Producer(stack.producer_url, timeout_s=2)

    def watch() -> None:
        while not stop.wait(0.02):
            context = producer.experiment()
            if context and (not phases_seen or phases_seen[-1] != context["phase"]):
                phases_seen.append(context["phase"])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = run_experiment(plan, stack_factory=running, live=False)
    finally:
        stop.set()
        watcher.join()
    # Then the producer was told each phase, the burst included, and the context was cleared
    assert {"probe", "load", "burst", "drain"} <= set(phases_seen), phases_seen
    assert producer.experiment() is None
    # Then every job of both modes succeeded and the async drain is within 25% of theory
    runs = {run["mode"]: run for run in result.summary["runs"]}
    assert runs["sync"]["completed"] == runs["async"]["completed"] == 40
    assert runs["async"]["lost"] == 0
    # (the prediction is 10 rounds of the S probed in this run, at least the 100 ms jobs)
    drain = runs["async"]["theory"]["checks"]["drain_s"]
    service_s = runs["async"]["probe"]["theory_service_s"]
    assert drain["predicted"] == pytest.approx(10 * service_s, rel=0.01), drain
    assert 0.1 <= service_s < 0.2, service_s
    assert abs(drain["deviation"]) <= 0.25, drain
    # And sync callers waited for the drain (10 rounds of 100 ms), async ones were accepted
    # before: the async accept p99 is under half the sync one on the same stack
    sync_accept, async_accept = (runs[m]["accept_latency_ms"]["p99"] for m in ("sync", "async"))
    assert sync_accept > 900
    assert async_accept < sync_accept / 2, (async_accept, sync_accept)
    assert result.passed
    # And the result files are written: jobs.csv with a row per job, summary.json, reports, plots
    out = tmp_path / "out"
    with open(out / "jobs.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 80
    assert {
        "mode",
        "workers",
        "intended",
        "sent",
        "accepted",
        "started",
        "finished",
        "http_status",
        "outcome",
    } <= set(rows[0])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"][0]["latency_ms"]["p99"] > 0
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 6
    assert (out / "report.md").exists()
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) >= 6 and all(p.stat().st_size > 5000 for p in pngs)


@pytest.mark.slow
def test_the_run_command_starts_its_own_stack_and_exits_non_zero_when_a_threshold_fails(
    tmp_path: Path,
) -> None:
    # Given a scenario whose accept-latency limit no real system meets
    impossible = TINY.replace("max_lost = 0", "async_accept_p99_ms = 0.001").replace(
        "size = 40", "size = 8"
    )
    scenario_file = tmp_path / "impossible.toml"
    scenario_file.write_text(impossible)
    # When `burstlab run` runs it on a stack it starts itself (1 worker, async only)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "burstlab",
            "run",
            str(scenario_file),
            "--workers",
            "1",
            "--modes",
            "async",
            "--out",
            str(tmp_path / "out"),
            "--no-live",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    # Then it completes the run, prints the table, writes the results and exits 1
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "threshold failed" in proc.stdout
    assert "async x1" in proc.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["passed"] is False
    assert summary["runs"][0]["completed"] == 8


def test_a_bad_scenario_file_is_refused_with_the_field_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace('pattern = "burst"', 'pattern = "tsunami"'))
    proc = subprocess.run(
        [sys.executable, "-m", "burstlab", "run", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "arrival.pattern" in proc.stderr
    assert "tsunami" in proc.stderr
