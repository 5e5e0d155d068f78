"""The shared work function: io sleeps, cpu uses its duration of CPU time, both report timings."""

from __future__ import annotations

import threading
import time

from burstlab.jobs.spec import JobSpec
from burstlab.jobs.work import burn_cpu, execute


def test_an_io_job_sleeps_for_its_duration_without_using_cpu() -> None:
    cpu_before = time.process_time()
    outcome = execute(JobSpec(kind="io", duration_ms=100))
    elapsed = outcome.finished_at - outcome.started_at
    assert 0.099 <= elapsed < 0.5
    assert time.process_time() - cpu_before < 0.05


def test_a_cpu_job_uses_its_duration_of_cpu_time_on_its_thread() -> None:
    # When a cpu job of 200 ms runs
    outcome = execute(JobSpec(kind="cpu", duration_ms=200))
    # Then its thread used 200 ms of CPU (read on the thread's own clock, so immune to other
    # processes on a shared machine), just past the mark, never short of it
    assert 0.2 <= outcome.result["cpu_seconds"] < 0.22
    assert outcome.finished_at - outcome.started_at >= 0.2


def test_the_cpu_a_job_uses_does_not_depend_on_what_else_the_process_runs() -> None:
    # Given a thread of the same process burning CPU beside the job
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            burn_cpu(0.005)

    neighbour = threading.Thread(target=busy)
    neighbour.start()
    try:
        # When two jobs run, one of 50 ms and one of 150 ms
        short = burn_cpu(0.05)
        long = burn_cpu(0.15)
    finally:
        stop.set()
        neighbour.join()
    # Then each used its own CPU time, not the process's (which the neighbour adds to)
    assert 0.05 <= short < 0.07 and 0.15 <= long < 0.17


def test_the_payload_size_is_echoed_not_the_payload() -> None:
    outcome = execute(JobSpec(kind="io", duration_ms=0, payload_bytes=5), "x" * 5)
    assert outcome.result["payload_bytes"] == 5
    assert "x" * 5 not in str(outcome.result)
    assert outcome.started_at <= outcome.finished_at
