"""Only JSON is ever deserialized from the queue: a pickle or yaml message is refused, never run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import redis

from burstlab.jobs.names import QUEUE_NAME, TASK_NAME, job_key
from burstlab.stack.local import LocalStack
from workers.app import create_celery_app
from workers.config import WorkerConfig


class _MakesDirectoryWhenUnpickled:
    """A pickle that, if a worker ever unpickled it, would create ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.path,))


def _acknowledged(client: redis.Redis, within_s: float = 10.0) -> bool:
    """Whether the refused message leaves the unacked hash (the ack follows the log line that
    says it was refused; well before the 15 s visibility timeout would hand it out again)."""
    deadline = time.monotonic() + within_s
    while client.hlen("unacked") and time.monotonic() < deadline:
        time.sleep(0.05)
    return client.hlen("unacked") == 0


def _wait_for_log(path: Path, text: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return False


def test_a_pickle_message_in_the_queue_is_refused_and_never_executed(
    stack: LocalStack, tmp_path: Path
) -> None:
    # Given a pickle-serialized task message that would run os.mkdir if unpickled
    marker = tmp_path / "pwned"
    app = create_celery_app(WorkerConfig(redis_url=stack.redis_url))
    job_id = "pickled-job"
    try:
        app.send_task(
            TASK_NAME,
            kwargs={"job_id": job_id, "spec": _MakesDirectoryWhenUnpickled(str(marker))},
            serializer="pickle",
            queue=QUEUE_NAME,
        )
    finally:
        app.close()
    # When the worker receives it
    refused = _wait_for_log(stack.worker.log_path, "untrusted content of type pickle", 10)
    # Then it is refused, nothing was executed and no job record was written
    assert refused, stack.worker.tail()
    assert not marker.exists()
    client = redis.Redis.from_url(stack.redis_url)
    assert not client.exists(job_key(job_id))
    # And the message is not left to be redelivered
    assert client.llen(QUEUE_NAME) == 0
    assert _acknowledged(client)


def test_a_yaml_message_in_the_queue_is_refused_and_never_executed(stack: LocalStack) -> None:
    # Given a yaml-serialized task message (a format that can construct objects)
    app = create_celery_app(WorkerConfig(redis_url=stack.redis_url))
    job_id = "yaml-job"
    try:
        app.send_task(
            TASK_NAME,
            kwargs={"job_id": job_id, "spec": {"kind": "io", "duration_ms": 1}},
            serializer="yaml",
            queue=QUEUE_NAME,
        )
    finally:
        app.close()
    # When the worker receives it
    refused = _wait_for_log(stack.worker.log_path, "untrusted content of type yaml", 10)
    # Then it is refused and logged, the job never ran, and the message is not redelivered
    assert refused, stack.worker.tail()
    client = redis.Redis.from_url(stack.redis_url)
    assert not client.exists(job_key(job_id))
    assert client.llen(QUEUE_NAME) == 0
    assert _acknowledged(client)
