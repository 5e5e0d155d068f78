"""The producer's default wait for a sync slot never sheds what a shipped scenario waits for."""

from __future__ import annotations

from burstlab.scenario.spec import list_scenarios, load_scenario
from burstlab.stack.local import SYNC_IN_FLIGHT_PER_BASELINE_WORKER
from producer.config import ProducerConfig


def test_no_shipped_scenario_waits_longer_than_the_default_sync_queue_timeout() -> None:
    # A request the load generator would still wait for must not be shed by the producer:
    # the local stack limits sync jobs in flight, so the rest wait in the producer instead
    # of gunicorn's backlog, up to the queue timeout.
    default = ProducerConfig().sync_queue_timeout_s
    for name in list_scenarios():
        scenario = load_scenario(name)
        assert scenario.timeout_s <= default, name


def test_the_default_producer_does_not_limit_sync_jobs_and_the_local_stack_keeps_workers_busy() -> (
    None
):
    assert ProducerConfig().sync_max_inflight == 0
    assert ProducerConfig.from_env({"SYNC_MAX_INFLIGHT": "8"}).sync_max_inflight == 8
    assert SYNC_IN_FLIGHT_PER_BASELINE_WORKER >= 2  # one running and one ready per worker
