"""The baseline dying under sync traffic: quick JSON 503s, then service resumes by itself."""

from __future__ import annotations

from burstlab.faults import sync_faults


def test_a_killed_gunicorn_worker_costs_at_most_its_request_and_is_replaced() -> None:
    # Given sync traffic at half capacity, When a busy gunicorn worker is killed
    report = sync_faults.baseline_worker_kill()
    # Then every request got a JSON answer: the one it was serving a quick 503, others 200
    assert report.lost == 0
    assert report.refused <= 2 and report.accepted >= report.notes["requests"] - 2  # type: ignore[operator]
    assert float(report.notes["slowest 503 s"]) < 1.0  # type: ignore[arg-type]
    # And gunicorn replaced it at once, and every request after that succeeded
    assert report.recovery_s is not None and report.recovery_s < 5
    done, sent = str(report.notes["200 after recovery"]).split("/")
    assert done == sent and int(sent) > 50


def test_a_killed_baseline_is_restarted_and_requests_meanwhile_get_quick_503s() -> None:
    # Given sync traffic, When the whole baseline (master and workers) is killed
    report = sync_faults.baseline_kill()
    # Then requests get JSON 503 baseline_unavailable quickly, none hangs or is unanswered
    assert report.lost == 0
    assert float(report.notes["slowest 503 s"]) < 1.0  # type: ignore[arg-type]
    assert report.notes["503 codes"] in ("baseline_unavailable", "none")
    # And the supervisor brings it back within seconds, and every request after succeeds
    assert report.recovery_s is not None and report.recovery_s < 10
    done, sent = str(report.notes["200 after recovery"]).split("/")
    assert done == sent and int(sent) > 50
