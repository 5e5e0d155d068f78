"""The Celery app factory: JSON only, late acks and fair prefetch unless configured otherwise."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from celery.signals import task_received, worker_process_init, worker_ready, worker_shutdown
from prometheus_client import CollectorRegistry

from burstlab.jobs.delivery import UNACKED_RESTORE_INTERVAL_S
from burstlab.jobs.target import TaskTarget
from burstlab.telemetry.exposition import MetricsServer, multiprocess_registry
from workers.config import WorkerConfig
from workers.metrics import WorkerMetrics
from workers.store import JobStore
from workers.watchdog import ConsumptionWatchdog

log = logging.getLogger(__name__)


RELIABLE_TRANSPORT = "workers.reliable_redis:Transport"


def celery_settings(config: WorkerConfig) -> dict[str, Any]:
    """Return the Celery configuration burstlab relies on."""
    return {
        "task_serializer": "json",
        "result_serializer": "json",
        # Only JSON is ever deserialized: a pickle or yaml message is refused, never executed.
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": config.acks_late,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": config.prefetch_multiplier,
        "worker_disable_prefetch": config.disable_prefetch,
        "task_ignore_result": True,
        "task_default_queue": config.queue,
        "task_create_missing_queues": True,
        # On RabbitMQ: the queue type the producer declares too (Celery turns global QoS off
        # for a quorum queue by itself, worker_detect_quorum_queues).
        "task_default_queue_type": config.queue_type,
        "task_create_missing_queue_type": config.queue_type,
        # kombu's Redis transport with the fetch window closed (see workers.reliable_redis): a
        # message is taken from the list and recorded as unacknowledged in one step.
        "broker_transport": (
            RELIABLE_TRANSPORT if config.on_redis and config.fetch == "reliable" else None
        ),
        "broker_transport_options": {
            "visibility_timeout": config.visibility_timeout_s,
            "unacked_restore_interval": UNACKED_RESTORE_INTERVAL_S,
            "unacked_restore_throttle": 1,
        },
        "broker_connection_retry_on_startup": True,
        # After a broker restart: reconnect forever (a supervisor restarts a worker that gives
        # up anyway), and stop running jobs whose late ack the lost connection cannot carry.
        "broker_connection_retry": True,
        "broker_connection_max_retries": None,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_send_task_events": False,
        "worker_disable_rate_limits": True,
        "task_send_sent_event": False,
        "worker_hijack_root_logger": True,
        "worker_redirect_stdouts": False,
    }


def create_celery_app(config: WorkerConfig, metrics: WorkerMetrics | None = None) -> Celery:
    """Build the Celery app for ``config`` with the ``burstlab.run_job`` task registered.

    ``metrics`` defaults to a set registered nowhere (a client that only sends control
    commands records nothing).
    """
    from workers.tasks import register_tasks

    app = Celery("burstlab", broker=config.broker, set_as_current=False)
    app.conf.update(celery_settings(config))
    register_tasks(app, JobStore(config.redis_url), metrics or WorkerMetrics(None))
    return app


def _record_ready(config: WorkerConfig) -> None:
    """Once the consumer consumes, record when (see :func:`burstlab.jobs.names.worker_ready_key`):
    a control ping answers later than that, by up to its own timeout."""
    store = JobStore(config.redis_url)

    def ready(sender: Any = None, **_: Any) -> None:
        try:
            store.mark_worker_ready(str(sender.hostname), time.time())
        except redis.RedisError as exc:  # the record is for the lab; the worker runs on
            log.warning("could not record when this worker became ready: %s", exc)

    worker_ready.connect(ready, weak=False, dispatch_uid="burstlab-worker-ready")


def _watch_consumption(config: WorkerConfig) -> None:
    """Once the worker is ready, watch that it keeps consuming (see :mod:`workers.watchdog`)."""
    if not config.stall_timeout_s or not config.on_redis:
        return  # RabbitMQ pushes to its consumers; a lost consumer's messages return at once
    from celery.worker import state

    watchdog = ConsumptionWatchdog(
        config.redis_url,
        config.queue,
        _pool_size(config),
        config.stall_timeout_s,
        reserved=lambda: len(state.reserved_requests),
    )
    task_received.connect(watchdog.on_task_received, weak=False)
    worker_ready.connect(lambda **_: watchdog.start(), weak=False)
    worker_shutdown.connect(lambda **_: watchdog.close(), weak=False)


def _pool_size(config: WorkerConfig) -> int:
    return 1 if config.pool == "solo" else config.concurrency


def create_target_app(config: WorkerConfig, target: TaskTarget, metrics: WorkerMetrics) -> Celery:
    """The user's own Celery app, with burstlab's hooks and the few overrides it needs.

    Their configuration stands (serializer, routing, time limits, acks, retries, prefetch);
    what burstlab changes, and why, is logged (:func:`burstlab.jobs.target.overrides`).
    """
    from burstlab.jobs.target import apply_overrides, find_task, load_app, overrides
    from workers.task_hooks import TaskHooks

    app = load_app(target.app, target.path)
    find_task(app, target.task)
    changed = overrides(app, config.broker, config.redis_url, config.concurrency)
    apply_overrides(app, changed)
    for item in changed:
        log.warning("burstlab sets %s = %r: %s", item.setting, item.value, item.reason)
    TaskHooks(target.task, JobStore(config.redis_url), metrics).connect()
    return app


def run_worker(
    config: WorkerConfig, metrics_dir: Path | None, target: TaskTarget | None = None
) -> None:
    """Run a Celery worker in this process until it is stopped: burstlab's own app, or with
    ``target`` a worker of the user's app (``celery -A their.app worker`` plus the hooks).

    With ``metrics_dir`` (multiprocess mode, set up by the start-up path before
    ``prometheus_client`` was imported) this main process serves the sum over every pool
    process; without it, only a non-forking pool (``solo``, ``threads``) is counted right.
    """
    if metrics_dir is not None:
        metrics = WorkerMetrics(None)
        registry = multiprocess_registry(metrics_dir)
    else:
        registry = CollectorRegistry()
        metrics = WorkerMetrics(registry)
    metrics.initialize_labels()
    if config.redelivers_running_jobs:
        log.warning(
            "visibility timeout %g s is not longer than the longest job: a job running longer "
            "is handed to a second worker while the first still runs it",
            config.visibility_timeout_s,
        )
    if target is None:
        app = create_celery_app(config, metrics)
        _watch_consumption(config)
    else:
        app = create_target_app(config, target, metrics)
    _record_ready(config)
    server = (
        MetricsServer(config.metrics_host, config.metrics_port, registry)
        if config.metrics_port
        else None
    )

    def pool_process_started(**_: Any) -> None:
        if server is not None:
            server.close_in_child()
        metrics.processes.set(1)

    if config.pool == "prefork":
        worker_process_init.connect(
            pool_process_started, weak=False, dispatch_uid="burstlab-pool-metrics"
        )
    else:
        metrics.processes.set(_pool_size(config))
    try:
        app.worker_main(
            [
                "worker",
                f"--concurrency={config.concurrency}",
                f"--pool={config.pool}",
                f"--loglevel={config.log_level}",
                f"--queues={config.queue}",
                f"--hostname=burstlab-{os.getpid()}@%h",
                "--optimization=fair",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        )
    finally:
        if server is not None:
            server.shutdown()
