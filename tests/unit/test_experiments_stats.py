"""Run statistics: percentiles, the summary maths on hand-made rows, backlog and rate series."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from burstlab.experiments.model.records import JobRow
from burstlab.experiments.model.stats import (
    BacklogPoint,
    RateBin,
    backlog_series,
    offered_completed_series,
    peak_backlog,
    percentiles_ms,
    summarize_run,
)
from burstlab.experiments.model.theory import TheoryInputs

T0 = 1_700_000_000.0


def _row(
    intended: float,
    *,
    mode: str = "async",
    workers: int = 1,
    lag: float = 0.001,
    accepted: float | None = None,
    started: float | None = None,
    finished: float | None = None,
    outcome: str = "succeeded",
    in_burst: bool = False,
    status: int = 202,
) -> JobRow:
    """A row with times given as offsets from T0; enqueued 5 ms after the intended send."""

    def at(offset: float | None) -> float | None:
        return None if offset is None else T0 + offset

    return JobRow(
        mode=mode, workers=workers, job_id=f"{mode}-{intended}-{started}", kind="io",
        duration_ms=100.0, intended=T0 + intended, sent=T0 + intended + lag,
        accepted=at(accepted), submitted=at(intended + 0.004), enqueued=at(intended + 0.005),
        started=at(started), finished=at(finished), http_status=status, outcome=outcome,
        in_burst=in_burst,
    )  # fmt: skip


# One async worker: a base job, a burst of three at 1 s (one lost), then a rejected job.
ASYNC_RUN = [
    _row(0.0, accepted=0.010, started=0.020, finished=0.120),
    _row(1.0, accepted=1.020, started=1.120, finished=1.220, in_burst=True),
    _row(1.0, lag=0.002, accepted=1.030, started=1.220, finished=1.320, in_burst=True),
    _row(1.0, lag=0.003, accepted=1.040, outcome="lost", in_burst=True),
    _row(1.5, accepted=1.510, outcome="rejected", status=503),
]


def test_percentiles_of_one_to_a_thousand_ms_are_where_expected() -> None:
    # Given latencies of 1, 2, ..., 1000 ms
    stats = percentiles_ms(ms / 1000 for ms in range(1, 1001))
    # Then percentiles are within HdrHistogram's 3 digits and max and mean are exact
    assert stats["p50"] == pytest.approx(500, rel=1e-3)
    assert stats["p90"] == pytest.approx(900, rel=1e-3)
    assert stats["p99"] == pytest.approx(990, rel=1e-3)
    assert stats["p999"] == pytest.approx(999, rel=1e-3)
    assert stats["max"] == 1000.0 and stats["mean"] == pytest.approx(500.5)
    assert stats["count"] == 1000


def test_without_a_burst_throughput_is_over_the_whole_run() -> None:
    # Given the same run with no job marked as burst traffic
    steady = [replace(row, in_burst=False) for row in ASYNC_RUN]
    # When it is summarized, Then throughput is completed / (last end - first intended send)
    summary = summarize_run(steady, "async", 1)
    assert summary["throughput_per_s"] == pytest.approx(3 / 1.32)


def test_percentiles_of_nothing_are_none_and_out_of_range_values_are_clamped() -> None:
    # Given no values, and values below 1 us and above an hour
    empty = percentiles_ms([])
    clamped = percentiles_ms([-0.5, 0.0, 7200.0])
    # Then empty stats are None with count 0, and extremes land on the range ends
    assert empty["p99"] is None and empty["count"] == 0
    assert clamped["max"] == 3_600_000.0 and clamped["p50"] == pytest.approx(0.001)


def test_an_async_run_summary_counts_outcomes_and_measures_from_intended_sends() -> None:
    # Given the hand-made async run, When it is summarized
    summary = summarize_run(ASYNC_RUN, "async", 1)
    # Then counts, throughput over the drain (burst start .. last end: 2 jobs in 0.32 s; the
    # job before the burst is left out) and drain from the burst are right
    assert (summary["offered"], summary["completed"]) == (5, 3)
    assert (summary["rejected"], summary["lost"], summary["errors"]) == (1, 1, 0)
    assert summary["throughput_per_s"] == pytest.approx(2 / 0.32)
    assert summary["drain_s"] == pytest.approx(0.32)
    # And latency counts from the intended send, accept latency only for jobs taken on
    assert summary["latency_ms"]["p50"] == pytest.approx(220, rel=1e-3)
    assert summary["latency_ms"]["max"] == pytest.approx(320)
    assert summary["latency_uncorrected_ms"]["max"] == pytest.approx(318)
    assert summary["accept_latency_ms"]["count"] == 4
    assert summary["accept_latency_ms"]["max"] == pytest.approx(40)
    assert summary["queue_wait_ms"]["max"] == pytest.approx(215)
    assert summary["service_ms"]["mean"] == pytest.approx(100)
    assert summary["peak_backlog"] == 3
    assert summary["generator_lag_ms"]["max"] == pytest.approx(3)
    assert summary["generator_fell_behind"] is False


def test_a_summary_ignores_rows_of_other_runs_and_is_strict_json() -> None:
    # Given the async run mixed with a sync run of two workers
    sync_row = _row(0.0, mode="sync", workers=2, accepted=0.3, started=0.1, finished=0.2)
    summary = summarize_run([*ASYNC_RUN, sync_row], "sync", 2)
    # Then only the sync row counts, its end is the HTTP answer, and the dict is valid JSON
    assert summary["offered"] == 1 and summary["latency_ms"]["max"] == pytest.approx(300)
    assert summary["drain_s"] == pytest.approx(0.3)
    json.dumps(summary, allow_nan=False)
    expected_keys = {
        "mode", "workers", "offered", "completed", "rejected", "lost", "failed", "errors",
        "retried", "timed_out",
        "throughput_per_s", "latency_ms", "latency_uncorrected_ms", "accept_latency_ms",
        "queue_wait_ms", "service_ms", "drain_s", "drain_overhead", "peak_backlog",
        "generator_lag_ms", "generator_fell_behind", "theory",
    }  # fmt: skip
    assert set(summary) == expected_keys


def test_a_generator_more_than_five_ms_late_at_p99_is_reported_as_behind() -> None:
    # Given every send 10 ms late
    late = [replace(row, sent=row.intended + 0.010) for row in ASYNC_RUN]
    # Then the summary says the generator fell behind
    assert summarize_run(late, "async", 1)["generator_fell_behind"] is True


def _fixed_burst(burst: int, workers: int, service_s: float) -> list[JobRow]:
    """A burst at 1 s served FIFO by ``workers`` with fixed service, accepted after 1 ms."""
    return [
        _row(
            1.0,
            workers=workers,
            accepted=1.001,
            started=1.0 + (i // workers) * service_s,
            finished=1.0 + (i // workers + 1) * service_s,
            in_burst=True,
        )
        for i in range(burst)
    ]


def test_a_run_that_drains_as_predicted_is_not_flagged_and_a_wrong_s_is() -> None:
    # Given 20 burst jobs of 100 ms on 2 workers that drained in 1 s
    rows = _fixed_burst(20, 2, 0.1)
    # When summarized with the right and with a halved service time
    right = summarize_run(rows, "async", 2, TheoryInputs(2, 0.1, burst_size=20))
    wrong = summarize_run(rows, "async", 2, TheoryInputs(2, 0.05, burst_size=20))
    # Then the right prediction matches without a flag and the wrong one is flagged at +100 %
    check = right["theory"]["checks"]["drain_s"]
    assert check["predicted"] == pytest.approx(1.0) and check["measured"] == pytest.approx(1.0)
    assert check["flagged"] is False
    assert right["theory"]["checks"]["burst_mean_latency_s"]["flagged"] is False
    assert wrong["theory"]["checks"]["drain_s"]["deviation"] == pytest.approx(1.0)
    assert wrong["theory"]["checks"]["drain_s"]["flagged"] is True
    assert "mean_wait_s" not in right["theory"]["checks"]
    assert right["theory"]["predicted"]["capacity_per_s"] == pytest.approx(20.0)


def test_the_per_task_overhead_is_drain_times_workers_over_jobs_minus_the_job_time() -> None:
    # Given 20 burst jobs of 100 ms on 2 workers, each costing 10 ms more than its run
    rows = _fixed_burst(20, 2, 0.110)
    # When summarized
    overhead = summarize_run(rows, "async", 2)["drain_overhead"]
    # Then the drain (1.1 s) is 10 ms per job and worker above the ideal ceil(20 / 2) x 100 ms
    assert overhead["jobs"] == 20 and overhead["job_ms"] == pytest.approx(100.0)
    assert overhead["ideal_drain_s"] == pytest.approx(1.0)
    assert overhead["per_task_ms"] == pytest.approx(10.0)


def test_a_run_without_a_burst_has_no_drain_overhead() -> None:
    rows = [replace(r, in_burst=False) for r in _fixed_burst(4, 1, 0.1)]
    assert summarize_run(rows, "async", 1)["drain_overhead"] is None


def test_a_summary_without_theory_inputs_has_an_empty_theory_section() -> None:
    # Given no theory inputs, Then the section is present with nothing checked
    theory = summarize_run(ASYNC_RUN, "async", 1)["theory"]
    assert theory == {"inputs": None, "predicted": None, "checks": {}}


def test_the_async_backlog_counts_accepted_jobs_not_yet_started() -> None:
    # Given the async run sampled every 0.5 s up to its last event (the rejected send at 1.5 s)
    series = backlog_series(ASYNC_RUN, step_s=0.5)
    # Then the burst is not yet accepted at 1.0 s, the lost job is still waiting at 1.5 s,
    # and the rejected job never enters the backlog
    assert series == [
        BacklogPoint(0.0, 0),
        BacklogPoint(0.5, 0),
        BacklogPoint(1.0, 0),
        BacklogPoint(1.5, 1),
    ]
    assert peak_backlog([ASYNC_RUN[-1]]) == 0
    assert backlog_series([], 0.5) == []


def test_the_sync_backlog_counts_sent_requests_not_yet_answered() -> None:
    # Given two sync requests sent at 0 and answered at 0.3 and 0.6
    rows = [
        _row(0.0, mode="sync", lag=0.0, accepted=0.3, status=200),
        _row(0.0, mode="sync", lag=0.0, accepted=0.6, status=200),
    ]
    # Then both wait until 0.3, one until 0.6, and none after
    assert [p.backlog for p in backlog_series(rows, step_s=0.2)] == [2, 2, 1, 0]
    assert peak_backlog(rows) == 2


def test_a_hand_over_at_the_same_instant_is_not_counted_twice() -> None:
    # Given one sync request answered at exactly the instant the next is sent
    rows = [
        _row(0.0, mode="sync", lag=0.0, accepted=0.5, status=200),
        _row(0.5, mode="sync", lag=0.0, accepted=1.0, status=200),
    ]
    # Then the peak backlog is one
    assert peak_backlog(rows) == 1


def test_offered_and_completed_are_counted_per_bin() -> None:
    # Given the async run in 1 s bins
    series = offered_completed_series(ASYNC_RUN, bin_s=1.0)
    # Then the first second offers and completes one job; the next offers four and completes two
    assert series == [RateBin(0.0, 1, 1), RateBin(1.0, 4, 2)]
