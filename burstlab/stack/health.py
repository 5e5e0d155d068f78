"""Health checks the local stack waits on: HTTP 200, Redis PING, an AMQP connection, a Celery
control ping."""

from __future__ import annotations

import functools
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    """Whether ``url`` answers HTTP 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def redis_ready(redis_url: str) -> bool:
    """Whether the Redis at ``redis_url`` answers PING (with its password, if any)."""
    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def amqp_ready(amqp_url: str) -> bool:
    """Whether a RabbitMQ at ``amqp_url`` takes an AMQP connection (its login included)."""
    import amqp
    from kombu import Connection
    from kombu.exceptions import OperationalError

    connection = Connection(amqp_url, connect_timeout=0.5)
    try:
        connection.connect()
        return True
    except (OperationalError, amqp.AMQPError, OSError):
        return False
    finally:
        connection.release()


@functools.cache
def _control_app(broker_url: str) -> Celery:
    """A Celery app that only sends control commands to the workers on ``broker_url``.

    Built once per broker (not per poll), with the workers' settings and no task registered.
    """
    from celery import Celery

    from workers.app import celery_settings
    from workers.config import WorkerConfig

    app = Celery("burstlab-control", broker=broker_url, set_as_current=False)
    app.conf.update(celery_settings(WorkerConfig(broker_url=broker_url)))
    return app


def worker_replies(broker_url: str) -> int:
    """How many Celery workers on that broker answer a control ping (0 if it is unreachable)."""
    import redis
    from kombu.exceptions import OperationalError

    try:
        return len(_control_app(broker_url).control.ping(timeout=0.5))
    except (OperationalError, redis.ConnectionError, OSError):
        return 0


def worker_ready(broker_url: str) -> bool:
    """Whether a Celery worker on that broker answers a control ping.

    A broker that cannot be reached is "not ready"; a wrong password, an import or a
    configuration error raises.
    """
    import redis
    from kombu.exceptions import OperationalError

    app = _control_app(broker_url)
    try:
        return bool(app.control.ping(timeout=0.5))
    except (OperationalError, redis.ConnectionError, OSError) as exc:
        cause = exc if isinstance(exc, redis.AuthenticationError) else exc.__cause__
        if isinstance(cause or exc.__context__, redis.AuthenticationError):
            raise
        return False


def external_ready(redis_url: str, token: str) -> bool:
    """Whether the stack's ``burstlab task-events`` (started with ``EVENTS_TOKEN=token``) found
    the running workers and listens to their events."""
    import redis

    from burstlab.jobs.names import EXTERNAL_KEY

    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        return bool(client.exists(f"{EXTERNAL_KEY}:{token}"))
    except redis.ConnectionError:
        return False


def prometheus_targets_up(
    prometheus_url: str, jobs: set[str], seen: set[str] | None = None
) -> bool:
    """Whether Prometheus has scraped every job in ``jobs`` successfully.

    With ``seen`` (kept by the caller across polls), a job counts once any poll found it up: on a
    starved machine a 1 s scrape now and then times out, and every target up at one instant may
    take long to happen, though each has a sample to start its rates from.
    """
    from burstlab.telemetry.prometheus_api import PrometheusClient, PrometheusError

    try:
        targets = PrometheusClient(prometheus_url, timeout_s=1.0).targets()
    except (PrometheusError, OSError):
        return False
    up = {t["labels"]["job"] for t in targets if t["health"] == "up"}
    if seen is not None:
        seen |= up
        up = seen
    return up >= jobs
