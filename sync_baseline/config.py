"""Typed baseline settings, read once from the environment at the edge."""

from __future__ import annotations

import os
from dataclasses import dataclass

from burstlab.jobs.spec import MAX_DURATION_MS
from burstlab.jobs.target import TaskTarget

DEFAULT_TIMEOUT_S = MAX_DURATION_MS / 1000 + 30
DEFAULT_METRICS_PORT = 9541


@dataclass(frozen=True)
class BaselineConfig:
    """How gunicorn serves the baseline: N sync worker processes behind one listen backlog."""

    host: str = "127.0.0.1"
    port: int = 8081
    workers: int = 1
    backlog: int = 2048
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_body_bytes: int = 2 * 1024 * 1024
    log_level: str = "info"
    metrics_port: int = DEFAULT_METRICS_PORT
    """Where gunicorn's master serves ``/metrics`` for every worker (on ``host``); 0: none."""
    target: TaskTarget | None = None
    """The user's Celery task that ``task`` jobs call (``TARGET_APP``, ``TARGET_TASK``)."""

    def __post_init__(self) -> None:
        if not 0 <= self.metrics_port < 65536:
            raise ValueError(f"metrics_port must be 0..65535, got {self.metrics_port}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.timeout_s * 1000 <= MAX_DURATION_MS:
            raise ValueError(
                f"timeout_s must be longer than the longest job ({MAX_DURATION_MS / 1000:g} s)"
            )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> BaselineConfig:
        """Build from ``BASELINE_HOST``, ``BASELINE_PORT``, ``BASELINE_WORKERS``, ...."""
        env = dict(os.environ if env is None else env)
        return cls(
            host=env.get("BASELINE_HOST", "127.0.0.1"),
            port=int(env.get("BASELINE_PORT", "8081")),
            workers=int(env.get("BASELINE_WORKERS", "1")),
            backlog=int(env.get("BASELINE_BACKLOG", "2048")),
            timeout_s=float(env.get("BASELINE_TIMEOUT_S", str(DEFAULT_TIMEOUT_S))),
            log_level=env.get("LOG_LEVEL", "info").lower(),
            metrics_port=int(env.get("BASELINE_METRICS_PORT", str(DEFAULT_METRICS_PORT))),
            target=TaskTarget.from_env(env),
        )
