"""Celery task messages (protocol v2) built directly, as kombu's Redis transport stores them.

Publishing this way costs one ``LPUSH`` on an asyncio Redis client instead of a blocking
``apply_async`` call. The format is pinned by a contract test that has a real Celery worker
execute what this module builds.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

import orjson

from jobs.names import QUEUE_NAME, TASK_NAME

_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def origin() -> str:
    """Return the ``origin`` header value Celery uses: ``pid@host``."""
    return f"{os.getpid()}@{socket.gethostname()}"


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
    body = orjson.dumps([[], kwargs, _EMBED]).decode()
    envelope = {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": task_name,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": "()",
            "kwargsrepr": "{...}",
            "origin": origin_header,
            "ignore_result": True,
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "delivery_tag": uuid.uuid4().hex,
        },
    }
    return orjson.dumps(envelope)
