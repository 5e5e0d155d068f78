"""Names shared across services: queue, task, Redis keys and channels."""

from __future__ import annotations

QUEUE_NAME = "burstlab"
"""The Celery queue (a Redis list of that name) that async jobs are published to."""

TASK_NAME = "burstlab.run_job"
"""The Celery task name of the one work function."""

PRIORITY_SEPARATOR = "\x06\x16"
"""kombu's separator between a queue name and its priority step."""

PRIORITY_STEPS = (0, 3, 6, 9)
"""kombu's default Redis priority steps; step 0 is the bare queue name."""

UNACKED_KEY = "unacked"
"""kombu's hash of delivered but not yet acknowledged messages."""

JOB_KEY_PREFIX = "burstlab:job:"
"""Prefix of the Redis hash holding one job's record."""

JOB_EVENTS_CHANNEL = "burstlab:job-events"
"""Pub/sub channel on which a job's status changes are published: the bare job id when it
starts, a JSON object (``job_id``, ``status``, ``mode`` and the four timings) when it ends."""

FINISHED_COUNTER_KEY = "burstlab:stats:finished"
"""Counter of jobs workers finished (any outcome): live progress without polling every job."""

EXTERNAL_KEY = "burstlab:external"
"""Written by ``burstlab task-events`` once it listens to a running deployment's events: JSON
with the worker node names it found and their pool processes."""

WORKER_READY_KEY_PREFIX = "burstlab:worker-ready:"
"""Prefix of the key a Celery worker (``name@host`` after it) sets to the epoch second its
consumer started consuming: when a replica really began to take jobs."""

WORKER_READY_TTL_S = 86_400
"""How long a worker's ready key is kept."""

MAX_LOOKUP_IDS = 1000
"""How many job ids one ``POST /jobs/lookup`` may ask for."""


def worker_ready_key(node: str) -> str:
    """Return the Redis key a worker named ``node`` sets when it starts consuming."""
    return WORKER_READY_KEY_PREFIX + node


def job_key(job_id: str) -> str:
    """Return the Redis key of a job's record."""
    return JOB_KEY_PREFIX + job_id


def priority_queue_names(queue: str = QUEUE_NAME) -> list[str]:
    """Return the Redis list names kombu uses for ``queue`` across its priority steps."""
    return [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS]
