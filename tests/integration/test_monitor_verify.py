"""``burstlab monitor verify`` end to end: a short burst per mode, Prometheus against jobs.csv."""

from __future__ import annotations

from pathlib import Path

import pytest

from burstlab.experiments.model.records import read_jobs_csv
from burstlab.experiments.monitor.checks import Bounds
from burstlab.experiments.monitor.verify import VerifySettings, run_verify

pytestmark = pytest.mark.slow

RATE = 40
BURST_S = 6
LOOSE = Bounds(peak_fraction=0.5, timing_s=4.0)
"""Wide enough for a loaded 2-core machine: this test proves the wiring, the CLI the accuracy."""


def test_prometheus_counts_every_job_of_a_burst_per_mode_and_shows_it_where_it_happened(
    tmp_path: Path, prometheus_installed: None
) -> None:
    # Given a monitored stack with 2 workers a side and 60 ms jobs (about 33 jobs/s)
    settings = VerifySettings(
        workers=2, rate=RATE, burst_s=BURST_S, duration_ms=60, quiet_s=2, bounds=LOOSE
    )
    # When 40 jobs/s arrive for 6 s in each mode and Prometheus is read back
    result = run_verify(tmp_path, settings)
    # Then jobs.csv holds every job, each finished
    rows = read_jobs_csv(result.jobs_csv)
    assert len(rows) == 2 * RATE * BURST_S
    assert {row.outcome for row in rows} == {"succeeded"}
    # And Prometheus' totals are exact, its peaks and burst edges within the loose bounds
    checks = {(c.mode, c.quantity): c for c in result.checks}
    for mode in ("sync", "async"):
        assert checks[mode, "offered jobs"].observed == RATE * BURST_S
        assert checks[mode, "completed jobs"].observed == RATE * BURST_S
        # (the generator's own pace: on a starved machine a late second's sends bunch up
        # with the next one's, so the true peak may stand above the planned rate)
        assert checks[mode, "peak offered /s"].truth == pytest.approx(RATE, rel=0.25)
        assert checks[mode, "peak backlog"].truth > 0
    failed = [c for c in result.checks if not c.passed]
    assert not failed, failed
