"""The Celery app factory: JSON only, late acks, fair prefetch."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from jobs.work import calibrate
from workers.config import WorkerConfig
from workers.store import JobStore


def _warm_up(**_: Any) -> None:
    calibrate()


def celery_settings(config: WorkerConfig) -> dict[str, Any]:
    """Return the Celery configuration burstlab relies on."""
    return {
        "task_serializer": "json",
        "result_serializer": "json",
        # Only JSON is ever deserialized: a pickle or yaml message is refused, never executed.
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "task_default_queue": config.queue,
        "task_create_missing_queues": True,
        "broker_transport_options": {"visibility_timeout": config.visibility_timeout_s},
        "broker_connection_retry_on_startup": True,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_send_task_events": False,
        "worker_disable_rate_limits": True,
        "task_send_sent_event": False,
        "worker_hijack_root_logger": True,
        "worker_redirect_stdouts": False,
    }


def create_celery_app(config: WorkerConfig) -> Celery:
    """Build the Celery app for ``config`` with the ``burstlab.run_job`` task registered."""
    from workers.tasks import register_tasks

    app = Celery("burstlab", broker=config.redis_url, set_as_current=False)
    app.conf.update(celery_settings(config))
    register_tasks(app, JobStore(config.redis_url))
    worker_process_init.connect(_warm_up, weak=False, dispatch_uid="burstlab-warm-up")
    return app


def run_worker(config: WorkerConfig) -> None:
    """Run a Celery worker in this process until it is stopped."""
    import os

    app = create_celery_app(config)
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
