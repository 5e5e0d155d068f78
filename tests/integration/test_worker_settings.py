"""``burstlab run`` on a worker-settings scenario: two cells on real stacks, early acks lose jobs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from burstlab.cli.main import main

TWO_CELLS = """
name = "two-cells"
kind = "worker-settings"
workers = [4]

[matrix]
pools = ["prefork"]
prefetch_multipliers = [1]
acks_late = [true, false]
disable_prefetch_cell = false
io_jobs = 24
cpu_jobs = 4
long_jobs = 1
short_jobs = 8
long_ms = 100
kill_jobs = 12
kill_ms = 300
repeats = 1
"""


def test_a_two_cell_matrix_shows_late_acks_keep_every_job_and_early_acks_lose_some(
    tmp_path: Path,
) -> None:
    # Given a matrix of prefork with late acks and with early acks
    scenario = tmp_path / "two-cells.toml"
    scenario.write_text(TWO_CELLS)
    out = tmp_path / "out"
    # When it runs (a stack of two worker replicas per cell, one replica SIGKILLed mid-burst)
    result = CliRunner().invoke(main, ["run", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    cells = {c["label"]: c for c in json.loads((out / "summary.json").read_text())["cells"]}
    late, early = cells["prefork x1 acks-late"], cells["prefork x1 acks-early"]
    # Then with late acks every job of the killed burst finished, with early acks some were lost
    assert late["killed_lost"] == 0 and late["safe"]
    assert early["killed_lost"] >= 1 and not early["safe"]
    # And both cells measured the bursts and the jobs held by the workers
    for cell in (late, early):
        assert 0 < cell["io_efficiency"] <= 1.05 and cell["held_peak"] >= 1
        assert cell["short_p99_ms"] >= 5
    # And the report ends with the verdict table
    report = (out / "report.md").read_text()
    assert "| prefork x1 acks-early | LOSES" in report
    assert "| prefork x1 acks-late | safe |" in report
