"""The Celery task: validate the job from the queue, run the shared work function, record it."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery import Celery
from celery.exceptions import Reject

from burstlab.jobs.names import TASK_NAME
from burstlab.jobs.spec import KINDS, ValidationError, parse_spec
from burstlab.jobs.work import execute
from workers.metrics import UNKNOWN_KIND, WorkerMetrics
from workers.store import JobStore

log = logging.getLogger(__name__)


def _event(
    base: dict[str, Any], status: str, started_at: float | None, finished_at: float
) -> dict[str, Any]:
    """The final event: what the producer needs to time the job end to end."""
    return {
        "status": status,
        "mode": base["mode"],
        "submitted_at": base["submitted_at"],
        "enqueued_at": base["enqueued_at"],
        "started_at": started_at,
        "finished_at": finished_at,
    }


def register_tasks(app: Celery, store: JobStore, metrics: WorkerMetrics) -> None:
    """Register ``burstlab.run_job`` on ``app``, writing status through ``store``."""

    @app.task(name=TASK_NAME, acks_late=True, ignore_result=True)
    def run_job(
        job_id: str,
        spec: dict[str, Any],
        submitted_at: float | None = None,
        enqueued_at: float | None = None,
        payload: str = "",
        mode: str = "async",
    ) -> None:
        base = {
            "mode": mode,
            "submitted_at": submitted_at,
            "enqueued_at": enqueued_at,
            "kind": spec.get("kind"),
            "duration_ms": spec.get("duration_ms"),
        }
        try:
            job = parse_spec(spec)
        except ValidationError as exc:
            log.error("job %s has an invalid spec from the queue: %s", job_id, exc.detail)
            kind = spec.get("kind") if spec.get("kind") in KINDS else UNKNOWN_KIND
            metrics.finished.labels(kind, "failed").inc()
            finished_at = time.time()
            fields = {**base, "status": "failed", "error": exc.detail, "finished_at": finished_at}
            store.mark_finished(job_id, fields, _event(base, "failed", None, finished_at))
            return
        try:
            started_at = store.mark_running(job_id, base)
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
            metrics.finished.labels(job.kind, "failed").inc()
            finished_at = time.time()
            fields = {"status": "failed", "error": repr(exc), "finished_at": finished_at}
            store.mark_finished(job_id, fields, _event(base, "failed", started_at, finished_at))
            raise
        finally:
            metrics.busy.dec()
        metrics.service.labels(job.kind).observe(outcome.finished_at - outcome.started_at)
        metrics.finished.labels(job.kind, "succeeded").inc()
        fields = {
            "status": "succeeded",
            "result": outcome.result,
            "started_at": outcome.started_at,
            "finished_at": outcome.finished_at,
        }
        event = _event(base, "succeeded", outcome.started_at, outcome.finished_at)
        store.mark_finished(job_id, fields, event)
