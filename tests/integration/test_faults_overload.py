"""Ten times the capacity for 30 s: bounded waits, bounded memory, nothing lost, then recovery."""

from __future__ import annotations

import pytest

from burstlab.faults import hostile, overload


def _before_after(report_notes: dict[str, object]) -> tuple[float, float]:
    before, after = str(report_notes["unloaded p50 ms before/after"]).split("/")
    return float(before), float(after)


@pytest.mark.slow
def test_sync_overload_is_shed_with_quick_503s_and_latency_returns_to_normal() -> None:
    report = overload.overload_sync()
    # Every request got a JSON answer: run (200) or shed (503 overloaded)
    assert report.lost == 0
    assert report.accepted + report.refused == 12_000
    assert report.notes["refusal codes"] == "overloaded"
    # About the capacity ran (40 jobs/s for 30 s), no request waited much past the bound
    assert 900 <= report.accepted <= 1_400
    assert float(report.notes["slowest answer s"]) < overload.SYNC_QUEUE_TIMEOUT_S + 1.5  # type: ignore[arg-type]
    # Memory stayed bounded and latency returned to its unloaded level
    assert report.rss_mb is not None and report.rss_mb[1] - report.rss_mb[0] < 150
    before, after = _before_after(report.notes)
    assert after < before * 1.5 + 10


@pytest.mark.slow
def test_async_overload_is_refused_beyond_the_backlog_and_every_accepted_job_completes() -> None:
    report = overload.overload_async()
    assert report.lost == 0 and report.completed == report.accepted
    assert report.accepted + report.refused == 12_000
    assert report.notes["refusal codes"] == "backlog_full"
    # Accepted: the backlog limit plus what the workers took meanwhile (40 jobs/s for 30 s)
    assert overload.MAX_BACKLOG < report.accepted <= overload.MAX_BACKLOG + 1_400
    assert float(report.notes["slowest refusal s"]) < 1.0  # type: ignore[arg-type]
    assert report.rss_mb is not None and report.rss_mb[1] - report.rss_mb[0] < 150
    # The backlog drained within seconds of the load ending, and latency is back to normal
    assert report.recovery_s is not None and report.recovery_s < 15
    before, after = _before_after(report.notes)
    assert after < before * 1.5 + 10


def test_the_hostile_input_catalogue_gets_json_4xx_from_a_stack_that_stays_up() -> None:
    report = hostile.hostile_input()
    assert report.lost == 0
    assert report.notes["unexpected"] == "none"
    assert report.notes["alive after"] is True
