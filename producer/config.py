"""Typed producer settings, read once from the environment at the edge."""

from __future__ import annotations

import os
from dataclasses import dataclass

from burstlab.jobs.names import QUEUE_NAME
from burstlab.jobs.spec import MAX_DURATION_MS
from burstlab.jobs.target import TaskTarget
from burstlab.settings import DEFAULT_REDIS_URL, broker_of, read_metrics_enabled, read_queue_type

DEFAULT_BASELINE_URL = "http://127.0.0.1:8081"


@dataclass(frozen=True)
class ProducerConfig:
    """Where the producer listens, where it sends jobs, and its limits."""

    host: str = "127.0.0.1"
    port: int = 8080
    redis_url: str = DEFAULT_REDIS_URL
    """Job records and events (and the queue, unless ``broker_url`` names another broker)."""
    broker_url: str | None = None
    """``BROKER_URL``: where async jobs are queued; ``None`` is the Redis of ``redis_url``,
    an ``amqp://`` URL a RabbitMQ."""
    queue_type: str = "classic"
    """``QUEUE_TYPE`` of the RabbitMQ queue (``classic`` or ``quorum``), as workers declare it."""
    rabbitmq_management_url: str | None = None
    """``RABBITMQ_MANAGEMENT_URL`` (``http://USER:PASSWORD@host:15672``): where the producer reads
    the RabbitMQ queue's unacknowledged count; without it ``reserved`` reads 0."""
    baseline_url: str = DEFAULT_BASELINE_URL
    queue: str = QUEUE_NAME
    sync_timeout_s: float = 2 * MAX_DURATION_MS / 1000
    """How long a sync request may wait for the baseline (queueing included) before 503."""
    sync_connect_timeout_s: float = 1.0
    sync_max_connections: int = 1024
    broker_timeout_s: float = 1.0
    """How long an enqueue may take before the submit answers 503 (broker down or hung)."""
    metrics_enabled: bool = True
    """Off (METRICS_ENABLED=0) only to measure what the metrics cost: no request metrics,
    no loop-lag probe, no ``GET /metrics`` (the handlers' few counter updates remain)."""
    max_backlog: int = 100_000
    """Async jobs waiting in the queue beyond which submits answer 429 (0: no limit)."""
    max_body_bytes: int = 1024 * 1024
    max_wait_s: float = 60.0
    sync_max_inflight: int = 0
    """Sync jobs forwarded to the baseline at once; more wait in the producer (0: no limit)."""
    sync_queue_timeout_s: float = 60.0
    """How long a sync job may wait in the producer for a forwarding slot before 503."""
    body_timeout_s: float = 10.0
    """How long a client may take to send a request body before 408."""
    target: TaskTarget | None = None
    """The user's Celery task that ``task`` jobs run (``TARGET_TASK``, ``TARGET_PAYLOADS``, ...)."""
    metrics_port: int | None = None
    """Also serve ``/metrics`` on this port from a thread of its own (PRODUCER_METRICS_PORT), so
    a scrape does not queue behind a burst of requests on the event loop; ``GET /metrics`` on
    ``port`` stays."""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1..65535, got {self.port}")
        if self.metrics_port is not None and not 0 < self.metrics_port < 65536:
            raise ValueError(f"metrics_port must be 1..65535, got {self.metrics_port}")
        for name in (
            "sync_timeout_s",
            "broker_timeout_s",
            "sync_connect_timeout_s",
            "sync_queue_timeout_s",
            "body_timeout_s",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.sync_max_inflight < 0:
            raise ValueError(f"sync_max_inflight must be 0 or more, got {self.sync_max_inflight}")

    @property
    def broker(self) -> str:
        """``redis`` or ``rabbitmq``: which broker holds the async queue."""
        return broker_of(self.broker_url or self.redis_url)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ProducerConfig:
        """Build from ``PRODUCER_HOST``, ``PRODUCER_PORT``, ``REDIS_URL``, ``BASELINE_URL``, ...."""
        env = dict(os.environ if env is None else env)
        defaults = cls()
        return cls(
            host=env.get("PRODUCER_HOST", defaults.host),
            port=int(env.get("PRODUCER_PORT", str(defaults.port))),
            redis_url=env.get("REDIS_URL", defaults.redis_url),
            broker_url=env.get("BROKER_URL") or None,
            queue_type=read_queue_type(env),
            rabbitmq_management_url=env.get("RABBITMQ_MANAGEMENT_URL") or None,
            baseline_url=env.get("BASELINE_URL", defaults.baseline_url).rstrip("/"),
            queue=env.get("QUEUE_NAME", defaults.queue),
            sync_timeout_s=float(env.get("SYNC_TIMEOUT_S", str(defaults.sync_timeout_s))),
            broker_timeout_s=float(env.get("BROKER_TIMEOUT_S", str(defaults.broker_timeout_s))),
            max_backlog=int(env.get("MAX_BACKLOG", str(defaults.max_backlog))),
            metrics_enabled=read_metrics_enabled(env),
            sync_max_connections=int(
                env.get("SYNC_MAX_CONNECTIONS", str(defaults.sync_max_connections))
            ),
            sync_max_inflight=int(env.get("SYNC_MAX_INFLIGHT", str(defaults.sync_max_inflight))),
            sync_queue_timeout_s=float(
                env.get("SYNC_QUEUE_TIMEOUT_S", str(defaults.sync_queue_timeout_s))
            ),
            body_timeout_s=float(env.get("BODY_TIMEOUT_S", str(defaults.body_timeout_s))),
            target=TaskTarget.from_env(env),
            metrics_port=int(env["PRODUCER_METRICS_PORT"])
            if env.get("PRODUCER_METRICS_PORT")
            else None,
        )
