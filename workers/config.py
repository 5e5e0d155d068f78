"""Typed worker settings, read once from the environment at the edge."""

from __future__ import annotations

import os
from dataclasses import dataclass

from burstlab.jobs.delivery import DEFAULT_VISIBILITY_TIMEOUT_S, FETCHES
from burstlab.jobs.names import QUEUE_NAME
from burstlab.jobs.spec import MAX_DURATION_MS
from burstlab.settings import DEFAULT_REDIS_URL, broker_of, read_metrics_enabled, read_queue_type

DEFAULT_METRICS_PORT = 9540
POOLS = ("prefork", "threads", "solo")
"""Celery execution pools a worker may run (``WORKER_POOL``)."""
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


@dataclass(frozen=True)
class WorkerConfig:
    """How a Celery worker connects and how many jobs it runs at once."""

    redis_url: str = DEFAULT_REDIS_URL
    """Job records and events (and the broker, unless ``broker_url`` is set)."""
    broker_url: str | None = None
    """``BROKER_URL``: where the queue is; ``None`` is the Redis of ``redis_url``. The reliable
    fetch and the consumption watchdog apply to a Redis broker only."""
    queue_type: str = "classic"
    """``QUEUE_TYPE``: the RabbitMQ queue type (``classic`` or ``quorum``)."""
    concurrency: int = 1
    queue: str = QUEUE_NAME
    visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S
    pool: str = "prefork"
    log_level: str = "WARNING"
    """Celery logs two INFO lines per task; at WARNING a burst of thousands stays readable."""
    metrics_host: str = "127.0.0.1"
    metrics_port: int = DEFAULT_METRICS_PORT
    """Where the main worker process serves ``/metrics`` for the whole pool; 0 serves none."""
    metrics_enabled: bool = True
    """Off (METRICS_ENABLED=0) only to measure what the metrics cost."""
    fetch: str = "reliable"
    """``WORKER_FETCH``: one of :data:`FETCHES`."""
    stall_timeout_s: float = 30.0
    """Jobs queued, a pool process free, nothing received for this long: the worker stopped
    consuming, so it shuts down to be restarted (0: never)."""
    prefetch_multiplier: int = 1
    """``WORKER_PREFETCH_MULTIPLIER``: messages reserved per pool process (Celery's
    ``worker_prefetch_multiplier``); 1 keeps the backlog in Redis where every worker can take
    it, 0 means no limit."""
    acks_late: bool = True
    """``WORKER_ACKS_LATE``: acknowledge after the job ran (a killed worker's jobs are
    redelivered); off acknowledges on receipt, so a killed worker loses what it held."""
    disable_prefetch: bool = False
    """``WORKER_DISABLE_PREFETCH``: Celery's ``worker_disable_prefetch`` (Redis only): take a
    message only while a pool process is free, whatever the multiplier."""

    def __post_init__(self) -> None:
        if not 0 <= self.metrics_port < 65536:
            raise ValueError(f"metrics_port must be 0..65535, got {self.metrics_port}")
        if self.stall_timeout_s < 0:
            raise ValueError(f"stall_timeout_s must be 0 or more, got {self.stall_timeout_s}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.fetch not in FETCHES:
            raise ValueError(f"fetch must be one of {', '.join(FETCHES)}, got {self.fetch!r}")
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {self.pool!r}")
        if self.prefetch_multiplier < 0:
            raise ValueError(
                f"prefetch_multiplier must be 0 (no limit) or more, got {self.prefetch_multiplier}"
            )
        if self.visibility_timeout_s <= 0:
            raise ValueError(
                f"visibility_timeout_s must be positive, got {self.visibility_timeout_s:g}"
            )

    @property
    def broker(self) -> str:
        """The URL of the broker the worker consumes from."""
        return self.broker_url or self.redis_url

    @property
    def on_redis(self) -> bool:
        """Whether the broker is Redis (kombu's Redis transport), not RabbitMQ."""
        return broker_of(self.broker) == "redis"

    @property
    def redelivers_running_jobs(self) -> bool:
        """True if a job may run longer than the visibility timeout and so be handed to a second
        worker while the first still runs it: only with kombu's own fetch, which does not
        refresh the messages a worker holds."""
        short = self.visibility_timeout_s * 1000 <= MAX_DURATION_MS
        return self.on_redis and self.fetch == "kombu" and short

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> WorkerConfig:
        """Build from ``REDIS_URL``, ``WORKER_CONCURRENCY``, ``VISIBILITY_TIMEOUT_S``, ...."""
        env = dict(os.environ if env is None else env)
        return cls(
            redis_url=env.get("REDIS_URL", DEFAULT_REDIS_URL),
            broker_url=env.get("BROKER_URL") or None,
            queue_type=read_queue_type(env),
            concurrency=int(env.get("WORKER_CONCURRENCY", "1")),
            queue=env.get("QUEUE_NAME", QUEUE_NAME),
            visibility_timeout_s=float(
                env.get("VISIBILITY_TIMEOUT_S", str(DEFAULT_VISIBILITY_TIMEOUT_S))
            ),
            pool=env.get("WORKER_POOL", "prefork"),
            log_level=env.get("LOG_LEVEL", "WARNING"),
            metrics_host=env.get("WORKER_METRICS_HOST", "127.0.0.1"),
            metrics_port=int(env.get("WORKER_METRICS_PORT", str(DEFAULT_METRICS_PORT))),
            metrics_enabled=read_metrics_enabled(env),
            stall_timeout_s=float(env.get("WORKER_STALL_TIMEOUT_S", "30")),
            fetch=env.get("WORKER_FETCH", "reliable"),
            prefetch_multiplier=_int(env, "WORKER_PREFETCH_MULTIPLIER", "prefetch_multiplier", 1),
            acks_late=_flag(env, "WORKER_ACKS_LATE", "acks_late", True),
            disable_prefetch=_flag(env, "WORKER_DISABLE_PREFETCH", "disable_prefetch", False),
        )


def _int(env: dict[str, str], name: str, field: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{field} ({name}) must be a whole number, got {raw!r}") from None


def _flag(env: dict[str, str], name: str, field: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    allowed = "/".join(TRUE_WORDS + FALSE_WORDS)
    raise ValueError(f"{field} ({name}) must be one of {allowed}, got {raw!r}")
