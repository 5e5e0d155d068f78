"""Worker and broker failures mid-burst lose no accepted job (the ledger checks every one).

Each test runs a fault scenario of ``faults/`` (the same ones ``burstlab faults`` runs):
a fresh stack, a burst of 200 async jobs of 100 ms on 2 worker processes, the fault while
they run, then every accepted job id checked against its record. The stack runs with a
visibility timeout of 15 s instead of 90 s (its jobs take 100 ms), so the jobs a dead worker
held come back in seconds; the scenarios check the same behaviour at any timeout.
"""

from __future__ import annotations

import pytest

from burstlab.faults import queue_faults
from burstlab.faults.queue_faults import redelivery_bound_s

pytestmark = pytest.mark.dependency_faults

VISIBILITY_TIMEOUT_S = 15.0
"""Longer than the burst's drain (220 jobs of 100 ms on 2 workers: about 11 s), so the jobs a
dead worker held come back to an empty queue."""


def test_a_killed_pool_process_loses_no_job_and_its_job_runs_again() -> None:
    # Given a burst in flight, When one Celery pool process is killed with SIGKILL
    report = queue_faults.worker_child_kill()
    # Then every accepted job completed, the interrupted one ran again (one duplicate start)
    assert report.accepted == 220 and report.completed == 220 and report.lost == 0
    assert 1 <= report.duplicated <= 2
    # And it was requeued at once, not after the visibility timeout (90 s): done within the
    # drain (about 11 s)
    assert report.recovery_s is not None and report.recovery_s < 30


@pytest.mark.slow
def test_a_killed_worker_is_restarted_and_its_jobs_come_back_after_the_visibility_timeout() -> None:
    # Given a burst in flight, When the whole worker (main process and pool) is killed
    report = queue_faults.worker_kill(VISIBILITY_TIMEOUT_S)
    # Then the supervisor restarts it, and every accepted job completes
    assert report.accepted == 220 and report.completed == 220 and report.lost == 0
    assert float(report.notes["restarted after s"]) < 5  # type: ignore[arg-type]
    # And the jobs it held come back after the visibility timeout plus one restore sweep:
    # not before (they were delivered just before the fault); an interrupted one runs again, a
    # finished but unacknowledged one is acknowledged without running
    # (at most what 2 processes with prefetch 1 can hold: 2 running + 2 reserved)
    assert report.duplicated <= 2 * queue_faults.WORKERS
    assert report.recovery_s is not None
    assert report.recovery_s < redelivery_bound_s(VISIBILITY_TIMEOUT_S)
    if int(report.notes["ran again"]):  # type: ignore[call-overload]
        assert report.recovery_s > VISIBILITY_TIMEOUT_S - 2


@pytest.mark.slow
@pytest.mark.parametrize("scenario", [queue_faults.broker_restart, queue_faults.broker_crash])
def test_a_broker_restart_answers_503_while_down_and_loses_no_accepted_job(scenario) -> None:  # type: ignore[no-untyped-def]
    # Given a burst in flight, When Redis stops (or crashes) for 3 s and comes back
    report = scenario(VISIBILITY_TIMEOUT_S)
    # Then while it is down submits are refused fast with 503 and /readyz names the broker
    assert report.notes["submits while down"] == "5/5 answered 503"
    assert float(report.notes["slowest 503 s"]) < 1.0  # type: ignore[arg-type]
    assert report.notes["readyz names broker"] is True
    # And workers consume again, and every job accepted before or after completes
    assert float(report.notes["worker consuming again after s"]) < 35  # type: ignore[arg-type]
    assert report.accepted == 220 and report.completed == 220 and report.lost == 0
    assert report.recovery_s is not None
    assert report.recovery_s < redelivery_bound_s(VISIBILITY_TIMEOUT_S)
