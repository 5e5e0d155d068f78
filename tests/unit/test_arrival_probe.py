"""The arrival probe: which bursts it measures, what it sends, how it reads a worker's jobs."""

from __future__ import annotations

import pytest

from burstlab.experiments.loadgen.arrival_probe import burst_head, needs_arrival_probe
from burstlab.experiments.model.handover import waiting_costs
from burstlab.experiments.model.records import JobRow
from burstlab.scenario.schedule import PlannedJob, Schedule


def burst_of(jobs: int, rate: float, trickle: int = 3) -> Schedule:
    """``trickle`` jobs a second apart, then ``jobs`` burst jobs at ``rate`` from 5 s."""
    items = [PlannedJob(float(i), "task", 0.0) for i in range(trickle)]
    items += [PlannedJob(5.0 + i / rate, "task", 0.0, in_burst=True) for i in range(jobs)]
    return Schedule(tuple(items), items[-1].offset_s)


def row(
    worker: str, enqueued: float, started: float, finished: float, duration_ms: float = 1.0
) -> JobRow:
    return JobRow(
        "async", 1, f"{worker}-{started}", "task", duration_ms, enqueued, enqueued, enqueued,
        enqueued, enqueued, started, finished, 202, "succeeded", True, worker=worker,
    )  # fmt: skip


def test_the_head_of_a_burst_is_its_first_tenth_of_a_second_from_zero() -> None:
    # Given 200 burst jobs at 1,000/s after a trickle
    head = burst_head(burst_of(200, 1000.0), servers=2)
    # Then the head is the burst's first 0.1 s (101 jobs), counted from its first send
    assert head is not None and len(head.items) == 101
    assert head.items[0].offset_s == 0.0 and head.items[-1].offset_s == pytest.approx(0.1)
    assert all(item.in_burst for item in head.items)
    # And a slow burst still sends 8 jobs per server, a small one all of it
    assert len(burst_head(burst_of(100, 10.0), servers=4).items) == 32  # type: ignore[union-attr]
    assert len(burst_head(burst_of(5, 10.0), servers=4).items) == 5  # type: ignore[union-attr]
    # And a schedule without a burst has no head
    assert burst_head(burst_of(0, 1.0), servers=1) is None


def test_only_a_burst_outpacing_a_hand_over_bound_pipeline_is_probed() -> None:
    fast = burst_of(200, 1000.0)
    # A 0.5 ms job handed over in 1 ms, 1,000 jobs/s on one server: probed
    assert needs_arrival_probe("async", fast, 1, run_s=0.0005, loaded_overhead_s=0.001)
    # On the sync side too (its baseline process names itself), but not for a 50 ms job
    assert needs_arrival_probe("sync", fast, 1, run_s=0.0005, loaded_overhead_s=0.001)
    assert not needs_arrival_probe("async", fast, 1, run_s=0.05, loaded_overhead_s=0.001)
    # Nor when the servers keep up with the burst (100/s against 667/s on one server)
    slow = burst_of(200, 100.0)
    assert not needs_arrival_probe("async", slow, 1, run_s=0.0005, loaded_overhead_s=0.001)


def test_a_workers_jobs_that_waited_are_timed_from_the_previous_finish() -> None:
    rows = [
        # Process a: its second job was queued before the first finished (a 3 ms cost, 1 ms
        # of it the run), its third after the second finished (it found a free process)
        row("a", 0.000, 0.001, 0.002),
        row("a", 0.001, 0.003, 0.005),
        row("a", 0.010, 0.011, 0.012),
        # Process b: two jobs back to back, 2 ms apart, listed out of order
        row("b", 0.000, 0.003, 0.004),
        row("b", 0.000, 0.001, 0.002),
        # A job no process is known for is left out
        row("", 0.000, 0.001, 0.009),
    ]
    assert waiting_costs(rows, run_s=0.001) == pytest.approx([0.002, 0.001])
    # And without a run time given, each job's own duration is its run (1 ms here)
    assert waiting_costs(rows) == pytest.approx([0.002, 0.001])
    assert waiting_costs([*rows[:2], row("a", 0.0, 0.006, 0.009, 3.0)]) == pytest.approx(
        [0.002, 0.001]
    )
