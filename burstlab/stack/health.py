"""Health checks the local stack waits on: HTTP 200, Redis PING, a Celery control ping."""

from __future__ import annotations

import urllib.error
import urllib.request


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


def worker_ready(redis_url: str) -> bool:
    """Whether a Celery worker on that broker answers a control ping."""
    from workers.app import create_celery_app
    from workers.config import WorkerConfig

    app = create_celery_app(WorkerConfig(redis_url=redis_url))
    try:
        return bool(app.control.ping(timeout=0.5))
    except Exception:
        return False
    finally:
        app.close()


def prometheus_targets_up(prometheus_url: str, jobs: set[str]) -> bool:
    """Whether Prometheus has scraped every job in ``jobs`` successfully."""
    from burstlab.telemetry.prometheus_api import PrometheusClient, PrometheusError

    try:
        targets = PrometheusClient(prometheus_url, timeout_s=1.0).targets()
    except (PrometheusError, OSError):
        return False
    return {t["labels"]["job"] for t in targets if t["health"] == "up"} >= jobs
