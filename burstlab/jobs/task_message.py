"""The Celery task message (protocol v2) of a job: its arguments, its envelope, and reading it.

The one owner of the message format. The producer builds messages with
:func:`task_message` and pushes them itself (one ``LPUSH`` on an asyncio Redis client, or
an AMQP publish) instead of a blocking ``apply_async`` call; the worker's ``burstlab.run_job``
task takes :func:`task_kwargs` as its keyword arguments; the producer's queue scrape reads a queued
message's enqueue time with :func:`enqueued_at_of`. The envelope is pinned by the end-to-end
tests, in which a real Celery worker executes what this module builds.

A message carries what the worker needs to run the job and time its wait in the queue, and
nothing it would only hand back: the producer keeps the rest of what it knew.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from typing import Any, ClassVar

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


@dataclass(frozen=True, slots=True)
class TaskMessage:
    """One Celery protocol v2 task message, before it is framed for a broker.

    Redis takes it as kombu's JSON envelope (:meth:`redis_envelope`); AMQP as a body with these
    headers and the properties ``content_type``, ``content_encoding``, ``correlation_id`` and a
    persistent delivery mode, which is how Celery's own AMQP publisher sends it.
    """

    task_id: str
    body: bytes
    """JSON ``[args, kwargs, embed]``."""
    headers: dict[str, Any]

    content_type: ClassVar[str] = "application/json"
    content_encoding: ClassVar[str] = "utf-8"

    def redis_envelope(self, queue: str = QUEUE_NAME) -> bytes:
        """kombu's Redis envelope: the body stored as plain JSON text (no ``body_encoding``),
        which kombu passes through unchanged. kombu keys its unacked hash on ``delivery_tag``,
        so it must be unique per message: it is the task id (a job is published once; a
        message kombu restores keeps its tag, as kombu's own messages do)."""
        envelope = {
            "body": self.body.decode(),
            "content-encoding": self.content_encoding,
            "content-type": self.content_type,
            "headers": self.headers,
            "properties": {
                "correlation_id": self.task_id,
                "reply_to": "",
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "delivery_tag": self.task_id,
            },
        }
        return orjson.dumps(envelope)


def task_message(
    task_id: str,
    kwargs: dict[str, Any],
    *,
    args: list[Any] | None = None,
    task_name: str = TASK_NAME,
    origin_header: str = "",
    own_result_setting: bool = False,
) -> TaskMessage:
    """The Celery protocol v2 message that runs ``task_name`` with ``args`` and ``kwargs``.

    burstlab's own task stores no result; with ``own_result_setting`` (a user's task) the task's
    own ``ignore_result`` decides, as when the user's code calls ``delay``.
    """
    headers = {
        **_STATIC_HEADERS,
        "task": task_name,
        "id": task_id,
        "root_id": task_id,
        "origin": origin_header,
    }
    if own_result_setting:
        headers["ignore_result"] = False
    return TaskMessage(task_id, orjson.dumps([args or [], kwargs, _EMBED]), headers)


def build_task_message(
    task_id: str,
    kwargs: dict[str, Any],
    *,
    task_name: str = TASK_NAME,
    queue: str = QUEUE_NAME,
    origin_header: str = "",
) -> bytes:
    """Return the kombu/Redis envelope of a Celery protocol v2 message for ``task_name``."""
    message = task_message(task_id, kwargs, task_name=task_name, origin_header=origin_header)
    return message.redis_envelope(queue)


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
