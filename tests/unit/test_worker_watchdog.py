"""The consumption watchdog tells a worker that stopped consuming from one that is busy or idle."""

from __future__ import annotations

from workers.watchdog import ConsumptionWatchdog, Sample


def _watchdog(timeout_s: float = 10.0) -> ConsumptionWatchdog:
    return ConsumptionWatchdog(
        "redis://127.0.0.1:1/0", "q", concurrency=2, stall_timeout_s=timeout_s, reserved=lambda: 0
    )


def test_jobs_waiting_while_a_free_worker_receives_nothing_is_a_stall_after_the_timeout() -> None:
    # Given jobs waiting and a worker with free processes that receives nothing
    dog = _watchdog()
    starved = Sample(queued=5, reserved=0, received=7)
    # When that lasts, Then it is a stall only once the timeout has passed
    assert not dog.check(starved, 0.0, None)
    assert not dog.check(starved, 2.0, starved)
    assert not dog.check(starved, 11.0, starved)
    assert dog.check(starved, 12.1, starved)


def test_a_busy_worker_an_empty_queue_or_a_received_job_is_not_a_stall() -> None:
    dog = _watchdog(timeout_s=1.0)
    starved = Sample(queued=5, reserved=0, received=0)
    dog.check(starved, 0.0, None)
    dog.check(starved, 0.5, starved)
    # Every process busy: not starved, and the clock starts again
    assert not dog.check(Sample(5, 2, 0), 5.0, starved)
    assert dog.stalled_since is None
    # Nothing queued
    assert not dog.check(Sample(0, 0, 0), 6.0, starved)
    # A job received since the last look
    assert not dog.check(Sample(5, 0, 1), 7.0, starved)
    # The broker unreadable
    assert not dog.check(Sample(None, 0, 0), 8.0, starved)
    assert dog.stalled_since is None
