"""broker-bounce: the broker SIGKILLed round after round under a trickle of sync and async jobs."""

from __future__ import annotations

import math

import pytest

from burstlab.faults.broker_bounce import broker_bounce

pytestmark = pytest.mark.dependency_faults


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_after_every_kill_the_producer_accepts_again_and_no_accepted_job_is_lost(
    broker: str,
) -> None:
    # Given a trickle of sync and async jobs, When the broker is SIGKILLed twice, 1 s down each
    report = broker_bounce(rounds=2, broker=broker, down_s=1.0)
    notes = report.notes
    per_round = [float(s) for s in str(notes["first accept after up s (per round)"]).split()]
    # Then after each return the producer accepted async jobs again (a producer that never
    # recovers has no first accept: NaN), far within the time the trickle allowed
    assert len(per_round) == 2
    assert all(not math.isnan(s) and s < 30 for s in per_round), per_round
    # And every refusal meanwhile was a JSON 503, and every accepted job completed
    refused_json, refused_all = str(notes["refusals that were a JSON 503"]).split("/")
    assert refused_json == refused_all
    assert report.lost == 0 and report.completed == report.accepted > 0
    # And no service crashed on the way: the worker reconnected by itself (a kombu channel
    # half-closed by the lost connection once made Celery exit on the next close)
    assert notes["services restarted"] == "none"
