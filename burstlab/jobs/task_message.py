"""The Celery task message (protocol v2) of a job: its arguments, its envelope, and reading it.

The one owner of the message format. The producer builds messages with
:func:`build_task_message` and pushes them with one ``LPUSH`` on an asyncio Redis client
instead of a blocking ``apply_async`` call; the worker's ``burstlab.run_job`` task takes
:func:`task_kwargs` as its keyword arguments; the producer's queue scrape reads a queued
message's enqueue time with :func:`enqueued_at_of`. The envelope is pinned by the end-to-end
tests, in which a real Celery worker executes what this module builds.

A message carries what the worker needs to run the job and time its wait in the queue, and
nothing it would only hand back: the producer keeps the rest of what it knew.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

import orjson

from burstlab.jobs.names import QUEUE_NAME, TASK_NAME
from burstlab.jobs.spec import JobSpec

JOB_ID = "job_id"
SPEC = "spec"
ENQUEUED_AT = "enqueued_at"
PAYLOAD = "payload"
TASK_ARGUMENTS = (JOB_ID, SPEC, ENQUEUED_AT, PAYLOAD)
"""The keyword arguments of ``burstlab.run_job``, in the order of its signature."""

_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def new_id() -> str:
    """A random 128-bit id in UUID text form (cheaper than ``uuid.uuid4()`` on a hot path)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def task_kwargs(job_id: str, spec: JobSpec, enqueued_at: float, payload: str) -> dict[str, Any]:
    """The keyword arguments of the ``burstlab.run_job`` task for one job."""
    return {JOB_ID: job_id, SPEC: spec.to_dict(), ENQUEUED_AT: enqueued_at, PAYLOAD: payload}


_STATIC_HEADERS = {
    "lang": "py",
    "shadow": None,
    "eta": None,
    "expires": None,
    "group": None,
    "group_index": None,
    "retries": 0,
    "timelimit": [None, None],
    "parent_id": None,
    "argsrepr": "()",
    "kwargsrepr": "{...}",
    "ignore_result": True,
}


def build_task_message(
    task_id: str,
    kwargs: dict[str, Any],
    *,
    task_name: str = TASK_NAME,
    queue: str = QUEUE_NAME,
    origin_header: str = "",
) -> bytes:
    """Return the kombu/Redis envelope of a Celery protocol v2 message for ``task_name``.

    The body is stored as plain JSON text (no ``body_encoding``), which kombu passes
    through unchanged; ``delivery_tag`` is unique per message because kombu keys its
    unacked hash on it.
    """
    envelope = {
        "body": orjson.dumps([[], kwargs, _EMBED]).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            **_STATIC_HEADERS,
            "task": task_name,
            "id": task_id,
            "root_id": task_id,
            "origin": origin_header,
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "delivery_tag": os.urandom(16).hex(),
        },
    }
    return orjson.dumps(envelope)


def enqueued_at_of(message: bytes) -> float | None:
    """Return the ``enqueued_at`` of a queued Celery message, or ``None`` if it has none.

    Reads the producer's own messages (plain JSON body) and base64-encoded ones alike.
    """
    try:
        envelope = orjson.loads(message)
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        value = orjson.loads(body)[1][ENQUEUED_AT]
    except (orjson.JSONDecodeError, binascii.Error, KeyError, IndexError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None
