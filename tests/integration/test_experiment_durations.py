"""``burstlab run`` of a duration sweep end to end: a local stack, both modes, the crossover."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

TINY = """\
name = "tiny-short-jobs"
workers = [2]
modes = ["sync", "async"]

[[job]]
kind = "io"

[arrival]
pattern = "duration-sweep"
durations_ms = [1, 50]
size = 20
repeats = 1
"""


@pytest.mark.slow
def test_a_tiny_duration_sweep_sets_each_drain_beside_its_prediction_and_finds_the_crossover(
    tmp_path: Path,
) -> None:
    # Given a duration sweep cut to 20 jobs on 2 workers at 1 and 50 ms, one burst each
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    out = tmp_path / "out"
    began = time.monotonic()
    # When `burstlab run` runs it on a stack it starts itself
    proc = subprocess.run(
        [sys.executable, "-m", "burstlab", "run", str(scenario), "--out", str(out), "--no-live"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - began
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # (its wall time, about 15 s unloaded, is reported, not asserted; the timeout bounds a hang)
    print(f"tiny duration sweep took {elapsed:.1f} s")
    summary = json.loads((out / "summary.json").read_text())
    runs = {run["mode"]: run for run in summary["runs"]}
    assert set(runs) == {"sync", "async"}
    for mode, run in runs.items():
        # Then each mode was calibrated by its no-op bursts (one each side of the durations)
        assert run["rounds"] == 10
        calibration = run["calibration"]
        assert len(calibration["noop_drains_s"]) == 2
        assert calibration["overhead_ms"] > 0
        # And every job of both durations finished, each burst no faster than ceil(B/N) x d
        assert [s["duration_ms"] for s in run["steps"]] == [1.0, 50.0]
        for step in run["steps"]:
            assert step["completed"] == step["jobs"] == 20, (mode, step)
            assert step["drain_s"] >= 10 * step["duration_ms"] / 1000, (mode, step)
            # beside its prediction ceil(B/N) x (d + o), from this mode's own overhead
            expected = 10 * (step["duration_ms"] + calibration["overhead_ms"]) / 1000
            assert step["predicted_drain_s"] == pytest.approx(expected)
        # And fifty times longer jobs take longer to drain, measured on the same stack
        short, long = run["steps"]
        assert long["drain_s"] > short["drain_s"], (mode, run["steps"])
    # And the crossover is read three ways, with the ratios it comes from
    (section,) = summary["crossover"]
    assert section["workers"] == 2 and section["durations_ms"] == [1.0, 50.0]
    assert all(ratio > 0 for ratio in section["ratios"])
    for key in ("slower", "beyond_tolerance"):
        for which in ("measured", "predicted", "fitted"):
            assert section[key][which]["how"] in ("crossed", "above", "below", "never")
    # And it is printed and reported, with the drain-against-duration plot
    assert "async drains slower than sync measured" in proc.stdout
    markdown = (out / "report.md").read_text()
    assert "## Crossover" in markdown and "## Job durations" in markdown
    plot = out / "duration_sweep.png"
    assert plot.read_bytes().startswith(b"\x89PNG") and "duration_sweep.png" in markdown
