"""The Celery task: validate the job from the queue, run the shared work function, record it."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery import Celery
from celery.exceptions import Reject

from burstlab.jobs.names import TASK_NAME
from burstlab.jobs.record import FAILED, SUCCEEDED
from burstlab.jobs.spec import KINDS, ValidationError, parse_spec
from burstlab.jobs.work import execute
from workers.metrics import UNKNOWN_KIND, WorkerMetrics
from workers.store import AlreadyFinished, JobStore

log = logging.getLogger(__name__)


def register_tasks(app: Celery, store: JobStore, metrics: WorkerMetrics) -> None:
    """Register ``burstlab.run_job`` on ``app``, writing status through ``store``.

    Its keyword arguments are those of :func:`burstlab.jobs.task_message.task_kwargs`.
    """

    # acks_late comes from the app's task_acks_late (WORKER_ACKS_LATE).
    @app.task(name=TASK_NAME, ignore_result=True)
    def run_job(
        job_id: str,
        spec: dict[str, Any],
        enqueued_at: float | None = None,
        payload: str = "",
    ) -> None:
        try:
            job = parse_spec(spec)
        except ValidationError as exc:
            log.error("job %s has an invalid spec from the queue: %s", job_id, exc.detail)
            kind = spec.get("kind") if spec.get("kind") in KINDS else UNKNOWN_KIND
            metrics.finished.labels(kind, FAILED).inc()
            store.mark_finished(job_id, FAILED, None, time.time(), error=exc.detail)
            return
        try:
            started_at = store.mark_running(job_id)
        except AlreadyFinished:
            # A duplicate delivery (a redelivered message whose job had already ended): counted
            # in the record, not run again; the message is acknowledged like any other.
            log.info("job %s already finished; duplicate delivery not run", job_id)
            metrics.duplicates.inc()
            return
        except redis.RedisError as exc:
            log.warning("job %s: cannot record start (%s); requeueing", job_id, exc)
            raise Reject(str(exc), requeue=True) from exc
        metrics.started.labels(job.kind).inc()
        if enqueued_at is not None:
            metrics.queue_wait.labels(job.kind).observe(max(0.0, started_at - enqueued_at))
        metrics.busy.inc()
        try:
            outcome = execute(job, payload)
        except Exception as exc:
            log.exception("job %s failed", job_id)
            metrics.finished.labels(job.kind, FAILED).inc()
            store.mark_finished(job_id, FAILED, started_at, time.time(), error=repr(exc))
            raise
        finally:
            metrics.busy.dec()
        metrics.service.labels(job.kind).observe(outcome.finished_at - outcome.started_at)
        metrics.finished.labels(job.kind, SUCCEEDED).inc()
        store.mark_finished(
            job_id, SUCCEEDED, outcome.started_at, outcome.finished_at, result=outcome.result
        )
