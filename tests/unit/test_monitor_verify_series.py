"""The series rebuilt from jobs.csv and their comparison with Prometheus', on synthetic runs."""

from __future__ import annotations

import math
from dataclasses import replace

from burstlab.experiments.model.records import JobRow
from burstlab.experiments.monitor.checks import Bounds, compare, panel_queries, rate_window_s
from burstlab.experiments.monitor.ground_truth import (
    ModeSeries,
    Series,
    grid,
    held,
    rebuild,
    window_rate,
)

T0 = 1_700_000_000.0


def job(mode: str, arrived: float, finished: float | None, answered: float, outcome: str) -> JobRow:
    return JobRow(
        mode=mode, workers=2, job_id="j", kind="io", duration_ms=100, intended=arrived,
        sent=arrived, accepted=answered, submitted=arrived, enqueued=arrived,
        started=None if finished is None else finished - 0.1, finished=finished,
        http_status=200 if mode == "sync" else 202, outcome=outcome, in_burst=True,
    )  # fmt: skip


def steady_burst(mode: str, rate: float, seconds: float, service_s: float) -> list[JobRow]:
    """``rate`` jobs/s from T0 + 10 s for ``seconds``, served one at a time every ``service_s``."""
    rows, free_at = [], 0.0
    for i in range(round(rate * seconds)):
        arrived = T0 + 10 + i / rate
        finished = max(arrived, free_at) + service_s
        free_at = finished
        answered = finished if mode == "sync" else arrived + 0.005
        rows.append(job(mode, arrived, finished, answered, "succeeded"))
    return rows


def test_a_window_rate_counts_the_events_of_the_trailing_window_per_second() -> None:
    # Given 10 events a second for 10 s, starting at T0 + 10
    events = [T0 + 10 + i / 10 for i in range(100)]
    # When they are rated over 5 s windows at 1 s steps
    series = window_rate(events, grid(T0, T0 + 30), 5.0)
    # Then the rate is 0 before, 10/s once a whole window is inside the burst, 0 after
    assert series.values[10] == 0.2  # only the event at exactly T0 + 10
    assert series.values[15:20] == (10.0,) * 5  # (T0 + 15, T0 + 20] holds 49 of them
    assert series.values[25:] == (0.0,) * 6
    assert series.peak() == 10.0


def test_held_counts_the_intervals_open_at_each_instant_and_a_lost_job_forever() -> None:
    intervals = [(T0 + 1, T0 + 3), (T0 + 2, T0 + 2.5), (T0 + 2, math.inf)]
    series = held(intervals, grid(T0, T0 + 4))
    assert series.values == (0.0, 1.0, 3.0, 1.0, 1.0)  # [a, b): gone at b


def test_a_burst_shows_from_the_first_to_the_last_instant_at_half_its_peak() -> None:
    series = Series(grid(T0, T0 + 6), (0.0, 1.0, 4.0, 10.0, 6.0, 4.9, 0.0))
    assert series.span_above() == (T0 + 3, T0 + 4)
    assert Series(grid(T0, T0 + 2), (0.0, 0.0, math.nan)).span_above() is None


def test_rebuilding_a_run_counts_offered_and_completed_jobs_and_the_backlog_of_one_mode() -> None:
    # Given an async burst of 40/s for 6 s served at 20/s, and a sync job beside it
    rows = [*steady_burst("async", 40, 6, 0.05), job("sync", T0 + 5, T0 + 6, T0 + 6, "succeeded")]
    rows.append(job("async", T0 + 11, None, T0 + 11.01, "rejected"))
    # When the async series are rebuilt over 5 s windows
    truth = rebuild(rows, "async", grid(T0, T0 + 40), 5.0)
    # Then the totals count the mode's jobs, the rejected one offered but not completed
    assert (truth.offered_total, truth.completed_total) == (241, 240)
    # And the offered rate peaks at 40/s and the completed rate at 20/s
    assert truth.offered.peak() == 40.2  # the rejected job adds 1/5 s
    assert truth.completed.peak() == 20.0
    # And the backlog peaks at the burst's end, 6 s x (40 - 20)/s
    assert 115 <= truth.backlog.peak() <= 121
    assert truth.backlog.values[-1] == 0


def test_a_sync_job_is_held_until_its_caller_is_answered_an_async_one_until_it_finishes() -> None:
    rows = [
        job("sync", T0 + 1, T0 + 2, T0 + 4, "succeeded"),
        job("async", T0 + 1, T0 + 4, T0 + 1.01, "succeeded"),
    ]
    times = grid(T0, T0 + 5)
    assert rebuild(rows, "sync", times, 5.0).backlog.values == (0, 1, 1, 1, 0, 0)
    assert rebuild(rows, "async", times, 5.0).backlog.values == (0, 1, 1, 1, 0, 0)


def _shifted(series: Series, seconds: int, scale: float = 1.0) -> Series:
    """The series ``seconds`` later on the same grid, times ``scale``: a late, wrong scrape."""
    values = (0.0,) * seconds + tuple(
        v * scale for v in series.values[: len(series.values) - seconds]
    )
    return Series(series.times, values)


def test_prometheus_equal_to_the_ground_truth_passes_every_check() -> None:
    truth = rebuild(steady_burst("sync", 60, 15, 1 / 40), "sync", grid(T0, T0 + 60), 5.0)
    checks = compare("sync", truth, truth)
    assert [c.quantity for c in checks] == [
        "offered jobs", "completed jobs", "peak offered /s", "peak backlog",
        "burst start", "burst end",
    ]  # fmt: skip
    assert all(c.passed for c in checks)


def test_a_late_flattened_or_miscounted_burst_fails_the_checks_it_breaks() -> None:
    truth = rebuild(steady_burst("async", 60, 15, 1 / 40), "async", grid(T0, T0 + 60), 5.0)
    verdicts = lambda seen: {c.quantity: c.passed for c in compare("async", truth, seen)}  # noqa: E731
    # One second late and 10 % low: within the bounds
    close = replace(
        truth, offered=_shifted(truth.offered, 1, 0.9), backlog=_shifted(truth.backlog, 1)
    )
    assert all(verdicts(close).values())
    # Three seconds late: the burst's start and end are out, the peaks are not
    late = replace(truth, offered=_shifted(truth.offered, 3))
    assert verdicts(late) == {**verdicts(close), "burst start": False, "burst end": False}
    # A 30 s window's flattened peak (about 33/s for 60/s): the peak offered rate is out
    flat = replace(truth, offered=_shifted(truth.offered, 0, 33 / 60))
    assert not verdicts(flat)["peak offered /s"]
    # A sync backlog capped at the forwarding slots: the peak backlog is out
    capped = replace(
        truth, backlog=Series(truth.backlog.times, tuple(min(v, 8.0) for v in truth.backlog.values))
    )
    assert not verdicts(capped)["peak backlog"]
    # One job missing from a counter: a total is out, however close the rest
    assert not verdicts(replace(truth, completed_total=truth.completed_total - 1))["completed jobs"]
    # Nothing seen at all: every check fails, none raises
    empty = Series(truth.offered.times, (math.nan,) * len(truth.offered.times))
    nothing = ModeSeries(empty, empty, empty, 0, 0)
    assert not any(verdicts(nothing).values())


def test_wider_bounds_accept_what_the_default_ones_reject() -> None:
    truth = rebuild(steady_burst("sync", 40, 6, 1 / 20), "sync", grid(T0, T0 + 40), 5.0)
    seen = replace(truth, offered=_shifted(truth.offered, 3, 0.75))
    assert not all(c.passed for c in compare("sync", truth, seen))
    assert all(c.passed for c in compare("sync", truth, seen, Bounds(0.3, 3.5)))


def test_the_checked_queries_are_the_rendered_panels_and_their_window_is_the_rules() -> None:
    queries = panel_queries()
    assert queries.offered == "mode:burstlab_jobs_submitted:rate5s"
    assert queries.completed == "mode:burstlab_jobs_completed:rate5s"
    assert queries.backlog == "mode:burstlab_backlog_jobs:sum"
    assert queries.window_s == 5.0
    assert rate_window_s("sum(rate(x_total[4s]))") == 4.0
