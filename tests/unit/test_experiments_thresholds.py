"""Scenario thresholds are checked per run and fail only on data that breaks them."""

from __future__ import annotations

from typing import Any

from burstlab.scenario.thresholds import Thresholds, all_passed, check_thresholds


def _run(mode: str, workers: int, **overrides: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "mode": mode,
        "workers": workers,
        "lost": 0,
        "rejected": 0,
        "errors": 0,
        "throughput_per_s": 20.0 * workers,
        "accept_latency_ms": {"p99": 12.0},
        "theory": {"checks": {"drain_s": {"deviation": 0.1}}},
    }
    return {**run, **overrides}


def test_every_set_threshold_passes_on_a_healthy_set_of_runs() -> None:
    # Given all limits and runs inside them
    limits = Thresholds(
        100.0, max_lost=0, max_rejected=0, max_drain_error=0.2, min_async_speedup_4v1=3
    )
    runs = [_run("sync", 1), _run("async", 1), _run("async", 4)]
    # When checked, Then every check passes, accept latency only for async runs
    checks = check_thresholds(limits, runs)
    assert all(check.passed for check in checks) and all_passed(checks)
    assert [c.subject for c in checks if c.name == "async_accept_p99_ms"] == [
        "async x1",
        "async x4",
    ]
    assert [c.measured for c in checks if c.name == "min_async_speedup_4v1"] == [4.0]


def test_a_slow_accept_a_lost_job_and_a_drain_miss_each_fail_their_run() -> None:
    # Given an async run that breaks three limits
    bad = _run(
        "async", 2, lost=1, accept_latency_ms={"p99": 300.0},
        theory={"checks": {"drain_s": {"deviation": -0.4}}},
    )  # fmt: skip
    limits = Thresholds(async_accept_p99_ms=250, max_lost=0, max_drain_error=0.25)
    # When checked, Then all three fail for that run and the set does not pass
    failed = {
        (c.name, c.subject, c.measured)
        for c in check_thresholds(limits, [bad])
        if c.passed is False
    }
    assert failed == {
        ("async_accept_p99_ms", "async x2", 300.0),
        ("max_lost", "async x2", 1),
        ("max_drain_error", "async x2", 0.4),
    }
    assert not all_passed(check_thresholds(limits, [bad]))


def test_a_threshold_without_the_data_to_decide_is_undecided_not_failed() -> None:
    # Given a speedup limit but no 4-worker run, and a drain limit with no theory
    limits = Thresholds(max_drain_error=0.2, min_async_speedup_4v1=2)
    runs = [_run("async", 1, theory={"checks": {}})]
    # When checked, Then both are undecided and the set still passes
    checks = check_thresholds(limits, runs)
    assert [c.passed for c in checks] == [None, None]
    assert all_passed(checks)


def test_unset_thresholds_check_nothing() -> None:
    # Given no limits, Then there is nothing to check
    assert check_thresholds(Thresholds(), [_run("async", 1)]) == []
