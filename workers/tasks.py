"""The Celery task: validate the job from the queue, run the shared work function, record it."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Celery
from celery.exceptions import Reject

from jobs.names import TASK_NAME
from jobs.spec import ValidationError, parse_spec
from jobs.work import execute
from workers.store import JobStore

log = logging.getLogger(__name__)


def register_tasks(app: Celery, store: JobStore) -> None:
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
            store.mark_finished(job_id, {**base, "status": "failed", "error": exc.detail})
            return
        try:
            store.mark_running(job_id, base)
        except redis.RedisError as exc:
            log.warning("job %s: cannot record start (%s); requeueing", job_id, exc)
            raise Reject(str(exc), requeue=True) from exc
        try:
            outcome = execute(job, payload)
        except Exception as exc:
            log.exception("job %s failed", job_id)
            store.mark_finished(job_id, {"status": "failed", "error": repr(exc)})
            raise
        store.mark_finished(
            job_id,
            {
                "status": "succeeded",
                "result": outcome.result,
                "started_at": outcome.started_at,
                "finished_at": outcome.finished_at,
            },
        )
