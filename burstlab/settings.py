"""Settings shared by every service's typed config: defaults and environment parsing helpers."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
"""The broker and job store when ``REDIS_URL`` is not set."""

BROKERS = ("redis", "rabbitmq")
"""The message brokers the async path can run on; job records and events stay in Redis."""

QUEUE_TYPES = ("classic", "quorum")
"""RabbitMQ queue types (``QUEUE_TYPE``); Redis has only its lists."""

AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")

FALSE_WORDS = ("0", "false", "no")
"""Values (any case) that turn a boolean setting off; anything else turns it on."""


def env_flag(env: Mapping[str, str], name: str, default: bool = True) -> bool:
    """Read the boolean setting ``name`` from ``env``: off for :data:`FALSE_WORDS`."""
    raw = env.get(name)
    if raw is None:
        return default
    return raw.lower() not in FALSE_WORDS


def read_metrics_enabled(env: Mapping[str, str]) -> bool:
    """``METRICS_ENABLED``: on unless turned off (only to measure what the metrics cost)."""
    return env_flag(env, "METRICS_ENABLED", default=True)


def broker_of(url: str) -> str:
    """Which of :data:`BROKERS` a broker URL points at (``amqp://``: ``rabbitmq``)."""
    scheme = url.split("://", 1)[0].lower()
    return "rabbitmq" if scheme in AMQP_SCHEMES else "redis"


def read_queue_type(env: Mapping[str, str]) -> str:
    """``QUEUE_TYPE``: one of :data:`QUEUE_TYPES` (``classic`` unless set)."""
    value = env.get("QUEUE_TYPE", "classic").strip().lower()
    if value not in QUEUE_TYPES:
        raise ValueError(f"QUEUE_TYPE must be one of {', '.join(QUEUE_TYPES)}, got {value!r}")
    return value


def queue_arguments(queue_type: str) -> dict[str, str] | None:
    """The RabbitMQ queue arguments Celery declares the default queue with for ``queue_type``
    (``task_default_queue_type``): none for classic, ``x-queue-type`` for quorum."""
    return {"x-queue-type": "quorum"} if queue_type == "quorum" else None
