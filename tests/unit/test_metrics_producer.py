"""The producer's metrics as plain objects: job stages, final events, the queue collector."""

from __future__ import annotations

import base64

import orjson
from prometheus_client import CollectorRegistry

from burstlab.jobs.events import FinalEvent
from burstlab.jobs.task_message import build_task_message, enqueued_at_of
from producer.backends.snapshot import QueueSnapshot
from producer.metrics import ProducerMetrics


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_a_finished_sync_job_is_counted_and_each_stage_observed() -> None:
    # Given fresh producer metrics
    registry = CollectorRegistry()
    metrics = ProducerMetrics(registry)
    # When a sync job submitted at 100 is forwarded at 100.25, starts at 100.5, ends at 101.5
    metrics.job_finished("sync", "succeeded", 100.0, 100.25, 100.5, 101.5)
    # Then it is completed once, with its end-to-end, queue wait and service time observed
    assert _value(registry, "burstlab_jobs_completed_total", mode="sync", outcome="succeeded") == 1
    assert _value(registry, "burstlab_job_end_to_end_seconds_sum", mode="sync") == 1.5
    assert _value(registry, "burstlab_job_queue_wait_seconds_sum", mode="sync") == 0.25
    assert _value(registry, "burstlab_job_service_seconds_sum", mode="sync") == 1.0
    assert _value(registry, "burstlab_job_end_to_end_seconds_bucket", mode="sync", le="1.0") == 0
    assert _value(registry, "burstlab_job_end_to_end_seconds_bucket", mode="sync", le="2.0") == 1


def test_an_async_job_is_timed_from_its_final_event_once_and_only_if_this_producer_took_it() -> (
    None
):
    # Given a producer that accepted job "a" submitted at 9.5 and enqueued at 10 (and not "b")
    registry = CollectorRegistry()
    metrics = ProducerMetrics(registry)
    metrics.track_async("a", 9.5, 10.0)
    assert _value(registry, "burstlab_async_jobs_in_flight") == 1
    event = FinalEvent("a", "succeeded", started_at=14.0, finished_at=14.5, worker="1@w")
    # When the final events of "a" (twice, as after a redelivery) and of "b" arrive
    metrics.on_final_event(event)
    metrics.on_final_event(event)
    metrics.on_final_event(FinalEvent("b", "succeeded", 14.0, 14.5, "1@w"))
    # Then "a" is counted once, its stages timed from what the producer kept and the event
    assert _value(registry, "burstlab_jobs_completed_total", mode="async", outcome="succeeded") == 1
    assert _value(registry, "burstlab_job_end_to_end_seconds_count", mode="async") == 1
    assert _value(registry, "burstlab_job_end_to_end_seconds_sum", mode="async") == 5.0
    assert _value(registry, "burstlab_job_queue_wait_seconds_sum", mode="async") == 4.0
    assert _value(registry, "burstlab_job_service_seconds_sum", mode="async") == 0.5
    assert _value(registry, "burstlab_async_jobs_in_flight") == 0


def test_a_job_that_was_not_accepted_is_forgotten_and_counted_as_rejected() -> None:
    registry = CollectorRegistry()
    metrics = ProducerMetrics(registry)
    # Given an async submission being tracked
    metrics.job_submitted("async")
    metrics.track_async("x", 1.0, 1.0)
    # When the broker refuses it
    metrics.untrack_async("x")
    metrics.job_rejected("async", "broker_unavailable")
    # Then it counts as submitted and rejected, and is no longer in flight
    assert _value(registry, "burstlab_jobs_submitted_total", mode="async") == 1
    assert (
        _value(registry, "burstlab_jobs_rejected_total", mode="async", reason="broker_unavailable")
        == 1
    )
    assert _value(registry, "burstlab_async_jobs_in_flight") == 0


def test_every_rejection_reason_exists_at_zero_before_the_first_rejection() -> None:
    registry = CollectorRegistry()
    ProducerMetrics(registry)
    for mode in ("sync", "async"):
        for reason in ("invalid", "broker_unavailable", "baseline_timeout"):
            assert _value(registry, "burstlab_jobs_rejected_total", mode=mode, reason=reason) == 0


def test_the_queue_collector_exposes_only_broker_down_without_a_snapshot() -> None:
    # Given metrics whose last scrape could not read Redis
    registry = CollectorRegistry()
    metrics = ProducerMetrics(registry)
    metrics.queue.update(None, now=1000.0)
    # Then the broker is reported down and no backlog is made up
    assert _value(registry, "burstlab_broker_up") == 0
    assert _value(registry, "burstlab_async_backlog_jobs") is None
    # When a snapshot with 7 queued and 3 reserved jobs, the oldest enqueued at 990, is read
    metrics.queue.update(QueueSnapshot(queued=7, reserved=3, oldest_enqueued_at=990.0), 1000.0)
    # Then the backlog is their sum and the oldest job is 10 s old
    assert _value(registry, "burstlab_broker_up") == 1
    assert _value(registry, "burstlab_async_backlog_jobs") == 10
    assert _value(registry, "burstlab_async_queued_jobs") == 7
    assert _value(registry, "burstlab_async_reserved_jobs") == 3
    assert _value(registry, "burstlab_async_oldest_queued_age_seconds") == 10


def test_the_enqueue_time_is_read_from_a_producer_message_and_a_base64_one() -> None:
    # Given the producer's own message and the same body base64-encoded, as Celery sends it
    own = build_task_message("id-1", {"job_id": "id-1", "enqueued_at": 1234.5})
    envelope = orjson.loads(own)
    envelope["body"] = base64.b64encode(envelope["body"].encode()).decode()
    envelope["properties"]["body_encoding"] = "base64"
    # Then both give the enqueue time, and anything else gives None
    assert enqueued_at_of(own) == 1234.5
    assert enqueued_at_of(orjson.dumps(envelope)) == 1234.5
    assert enqueued_at_of(b"not json") is None
    assert enqueued_at_of(build_task_message("id-2", {"job_id": "id-2"})) is None


def test_a_request_series_is_made_once_per_route_mode_and_status() -> None:
    registry = CollectorRegistry()
    metrics = ProducerMetrics(registry)
    # When two async submissions and one 404 are observed
    metrics.observe_request("/jobs", "async", 202, 0.002)
    metrics.observe_request("/jobs", "async", 202, 0.004)
    metrics.observe_request("unmatched", "none", 404, 0.001)
    # Then each lands in its own series with its status
    requests = "burstlab_http_requests_total"
    assert _value(registry, requests, route="/jobs", mode="async", status="202") == 2
    assert _value(registry, requests, route="unmatched", mode="none", status="404") == 1
    durations = "burstlab_http_request_duration_seconds_count"
    assert _value(registry, durations, route="/jobs", mode="async") == 2
