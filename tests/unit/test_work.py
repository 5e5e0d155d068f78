"""The shared work function: io sleeps, cpu burns calibrated CPU, both report their timings."""

from __future__ import annotations

import time

from burstlab.jobs.spec import JobSpec
from burstlab.jobs.work import calibrate, execute


def test_an_io_job_sleeps_for_its_duration_without_using_cpu() -> None:
    cpu_before = time.process_time()
    outcome = execute(JobSpec(kind="io", duration_ms=100))
    elapsed = outcome.finished_at - outcome.started_at
    assert 0.099 <= elapsed < 0.5
    assert time.process_time() - cpu_before < 0.05


def test_a_cpu_job_burns_about_its_duration_of_cpu_time() -> None:
    calibrate()
    outcome = execute(JobSpec(kind="cpu", duration_ms=200))
    # CPU time, not wall time: immune to other processes on a shared machine.
    assert 0.1 <= outcome.result["cpu_seconds"] <= 0.4
    assert outcome.result["cpu_chunks"] > 0


def test_the_payload_size_is_echoed_not_the_payload() -> None:
    outcome = execute(JobSpec(kind="io", duration_ms=0, payload_bytes=5), "x" * 5)
    assert outcome.result["payload_bytes"] == 5
    assert "x" * 5 not in str(outcome.result)
    assert outcome.started_at <= outcome.finished_at


def test_a_cpu_job_that_runs_faster_than_calibrated_raises_the_rate_for_later_jobs() -> None:
    import burstlab.jobs.work as work

    # Given a calibration taken while the machine was slow (half the real rate)
    real = calibrate(force=True)
    work._calibrated_rate = real / 2
    # When a cpu job runs on an idle core
    first = execute(JobSpec(kind="cpu", duration_ms=100))
    # Then it was short (half the work), and the next job gets the full amount of work
    second = execute(JobSpec(kind="cpu", duration_ms=100))
    assert second.result["cpu_chunks"] > first.result["cpu_chunks"] * 1.5
    assert work._calibrated_rate is not None and work._calibrated_rate > real * 0.8
