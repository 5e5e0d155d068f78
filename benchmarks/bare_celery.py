"""A bare Celery worker with burstlab's broker settings and none of its code.

The reference burstlab's worker is measured against in ``benchmarks.worker_overhead``: Redis,
prefork, late acks, prefetch 1, JSON only, results ignored, the same worker flags. Its one task
takes the same keyword arguments as ``burstlab.run_job`` and only sleeps for the job's duration:
no job record, no metrics, no reliable fetch.

Run: python -m benchmarks.bare_celery REDIS_URL CONCURRENCY QUEUE
"""

from __future__ import annotations

import sys
import time
from typing import Any

from celery import Celery

TASK_NAME = "bare.run_job"


def create_bare_app(redis_url: str, queue: str) -> Celery:
    """A Celery app with burstlab's broker settings (kombu's own Redis fetch) and one task."""
    app = Celery("bare", broker=redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=queue,
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
        worker_disable_rate_limits=True,
        task_send_sent_event=False,
        worker_redirect_stdouts=False,
    )

    @app.task(name=TASK_NAME, acks_late=True, ignore_result=True)
    def run_job(
        job_id: str, spec: dict[str, Any], enqueued_at: float | None = None, payload: str = ""
    ) -> None:
        duration_ms = float(spec.get("duration_ms", 0))
        if duration_ms > 0:
            time.sleep(duration_ms / 1000)

    return app


def main() -> None:
    redis_url, concurrency, queue = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    create_bare_app(redis_url, queue).worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--loglevel=WARNING",
            f"--queues={queue}",
            "--hostname=bare@%h",
            "--optimization=fair",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


if __name__ == "__main__":
    main()
