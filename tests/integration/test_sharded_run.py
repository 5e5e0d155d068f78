"""Two ``burstlab run --shard`` processes against one producer, merged by ``burstlab merge``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from burstlab.experiments.model.histograms import HISTOGRAMS_FILE
from burstlab.experiments.model.records import read_jobs_csv
from burstlab.experiments.model.stats import latency_values, percentiles_ms
from burstlab.scenario.schedule import build_schedule
from burstlab.scenario.spec import load_scenario
from burstlab.stack.local import LocalStack

STEADY = """\
name = "shard-steady"
description = "Poisson io jobs of 20 ms, async, sent by two shards"
workers = [4]
modes = ["async"]
timeout_s = 30
drain_timeout_s = 30

[[job]]
kind = "io"
duration_ms = 20

[arrival]
pattern = "poisson"
rate = 40.0
duration_s = 1.5

[thresholds]
max_lost = 0
"""
SEED = 5
# Time for each process to start, probe the service time and warm its connections.
START_LEAD_S = 12.0


def burstlab(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "burstlab", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_two_shards_merged_are_one_generators_schedule_with_percentiles_of_every_job(
    stack: LocalStack, tmp_path: Path
) -> None:
    # Given a seeded Poisson schedule and a start both shard processes share
    scenario_file = tmp_path / "steady.toml"
    scenario_file.write_text(STEADY)
    schedule = build_schedule(load_scenario(str(scenario_file)), SEED)
    start_at = time.time() + START_LEAD_S
    # When two processes each send their shard of it to the same producer
    common = ["--target", stack.producer_url, "--workers", "4", "--seed", str(SEED), "--no-live"]
    shards = []
    for index in range(2):
        shard = ["--shard", f"{index}/2", "--out", str(tmp_path / f"shard-{index}")]
        shards.append(
            burstlab("run", str(scenario_file), *common, *shard, "--start-at", repr(start_at))
        )
    for process in shards:
        output, _ = process.communicate(timeout=90)
        assert process.returncode == 0, output
    # and their folders are merged
    merged = tmp_path / "merged"
    merge = subprocess.run(
        [sys.executable, "-m", "burstlab", "merge", str(tmp_path / "shard-0"),
         str(tmp_path / "shard-1"), "--out", str(merged)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert merge.returncode == 0, merge.stderr

    # Then each shard sent its half and wrote the histograms a merge needs
    halves = [json.loads((tmp_path / f"shard-{i}/summary.json").read_text()) for i in range(2)]
    assert [h["runs"][0]["offered"] for h in halves] == [
        len(schedule.items[0::2]),
        len(schedule.items[1::2]),
    ]
    assert all((tmp_path / f"shard-{i}" / HISTOGRAMS_FILE).is_file() for i in range(2))
    # And the merged result offered every job of the one schedule, at its intended time
    summary = json.loads((merged / "summary.json").read_text())
    (run,) = summary["runs"]
    assert run["offered"] == schedule.offered > 40
    rows = read_jobs_csv(merged / "jobs.csv")
    assert sorted(r.intended for r in rows) == sorted(start_at + i.offset_s for i in schedule.items)
    assert run["completed"] == schedule.offered and run["lost"] == 0
    # And its percentiles, from the merged histograms, are those of every job's latency
    for name, samples in latency_values(rows).items():
        assert run[name] == pytest.approx(percentiles_ms(samples)), name
    # And the merged run is replayed with the first shard's inputs, against the merged drain
    prediction = run["prediction"]
    assert prediction["inputs"] == halves[0]["runs"][0]["prediction"]["inputs"]
    assert prediction["checks"]["drain_s"]["measured"] == pytest.approx(run["drain_s"])
    # And the report of a single run is there, with the thresholds checked over all jobs
    assert summary["merged"]["missing_shards"] == []
    assert summary["passed"] is True
    assert "shard-steady" in (merged / "report.html").read_text()
    assert (merged / "report.md").is_file()
