"""The job record, status event and task message each have one owner that round-trips them."""

from __future__ import annotations

import inspect

import pytest

from burstlab.jobs.events import FinalEvent, decode_event, encode_final, encode_started
from burstlab.jobs.names import TASK_NAME
from burstlab.jobs.record import (
    ATTEMPTS,
    accepted_fields,
    decode_record,
    extra_deliveries,
    finished_fields,
    job_view,
    running_fields,
)
from burstlab.jobs.spec import JobSpec
from burstlab.jobs.task_message import TASK_ARGUMENTS, task_kwargs
from burstlab.settings import read_metrics_enabled
from workers.app import create_celery_app
from workers.config import WorkerConfig


def test_a_record_written_by_producer_then_worker_reads_back_as_the_job_view() -> None:
    # Given what the producer wrote on accepting a job, then the worker on starting and ending it
    spec = JobSpec(kind="io", duration_ms=5.0, payload_bytes=3)
    raw = {
        **accepted_fields("async", spec, 10.0, 10.5),
        **running_fields(11.0, "7@w"),
        ATTEMPTS: "1",
        **finished_fields("succeeded", 11.25, started_at=11.0, result={"echo_bytes": 3}),
    }
    # When it is read back as bytes from Redis
    view = job_view("j", decode_record({k.encode(): v.encode() for k, v in raw.items()}))
    # Then every fact appears once, with its type
    assert view == {
        "job_id": "j",
        "mode": "async",
        "status": "succeeded",
        "kind": "io",
        "duration_ms": 5.0,
        "result": {"echo_bytes": 3},
        "timings": {
            "submitted_at": 10.0,
            "enqueued_at": 10.5,
            "started_at": 11.0,
            "finished_at": 11.25,
        },
        "attempts": 1,
        "duplicates": 0,
        "worker": "7@w",
    }


def test_only_a_final_status_can_finish_a_record() -> None:
    with pytest.raises(ValueError, match="not a final status"):
        finished_fields("running", 1.0)


def test_extra_deliveries_count_reruns_and_deliveries_acknowledged_without_running() -> None:
    # A job run twice and delivered once more after it had finished: 2 beyond the first
    assert extra_deliveries({"attempts": 2, "duplicates": 1}) == 2
    # A job run once, and one never started (a view without the counts), have none
    assert extra_deliveries({"attempts": 1, "duplicates": 0}) == 0
    assert extra_deliveries({}) == 0
    # A user's task that retried once ran twice by its own request: no extra delivery; run a
    # third time by a redelivery, one
    assert extra_deliveries({"attempts": 2, "result": {"retries": 1}}) == 0
    assert extra_deliveries({"attempts": 3, "result": {"retries": 1}}) == 1


def test_a_final_event_carries_only_what_the_worker_learned_and_round_trips() -> None:
    # Given a final event and a start event
    event = FinalEvent("j", "failed", started_at=None, finished_at=2.5, worker="7@w")
    # Then each decodes to what was encoded, and the final one names no producer fact
    assert decode_event(encode_final(event)) == event
    assert decode_event(encode_started("j")) == "j"
    assert b"submitted_at" not in encode_final(event) and b"mode" not in encode_final(event)
    # And an unreadable event is refused
    with pytest.raises(ValueError):
        decode_event(b'{"job_id": "j"}')


def test_the_worker_task_takes_exactly_the_arguments_the_message_owner_builds() -> None:
    # Given the worker's registered task and the message owner's arguments for one job
    app = create_celery_app(WorkerConfig())
    try:
        parameters = list(inspect.signature(app.tasks[TASK_NAME].run).parameters)
    finally:
        app.close()
    kwargs = task_kwargs("j", JobSpec(kind="cpu", duration_ms=1.0), 3.0, "")
    # Then they name the same arguments in the same order, without producer-only facts
    assert parameters == list(TASK_ARGUMENTS) == list(kwargs)
    assert "submitted_at" not in kwargs and "mode" not in kwargs


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, True),
        ({"METRICS_ENABLED": "0"}, False),
        ({"METRICS_ENABLED": "No"}, False),
        ({"METRICS_ENABLED": "1"}, True),
        ({"METRICS_ENABLED": "yes"}, True),
    ],
)
def test_metrics_are_on_unless_metrics_enabled_says_otherwise(
    env: dict[str, str], expected: bool
) -> None:
    assert read_metrics_enabled(env) is expected
