"""``--external``: time a running deployment's own workers from Celery's event stream.

burstlab starts no worker and changes no setting of theirs: it listens on their broker to the
events their workers send (``-E`` / ``worker_send_task_events``) and writes each job's record as
burstlab's own workers do, keyed by the task id (the job id): started at the ``task-started``
event, finished at ``task-succeeded`` or ``task-failed`` (their ``timestamp``), retried runs
counted. :func:`burstlab.jobs.target.check_deployment` has refused a deployment without events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from burstlab.jobs.record import FAILED, SUCCEEDED
from workers.store import AlreadyFinished, JobStore

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

TIME_LIMIT_ERRORS = ("SoftTimeLimitExceeded", "TimeLimitExceeded")


class EventRecorder:
    """Turns the events of the task named ``task_name`` into burstlab job records."""

    def __init__(self, task_name: str, store: JobStore) -> None:
        self.task_name = task_name
        self._store = store
        self._ours: set[str] = set()
        self._started: dict[str, float] = {}
        self._retries: dict[str, int] = {}

    def handlers(self) -> dict[str, Any]:
        return {
            "task-received": self.on_received,
            "task-started": self.on_started,
            "task-succeeded": self.on_succeeded,
            "task-failed": self.on_failed,
            "task-retried": self.on_retried,
        }

    def on_received(self, event: dict[str, Any]) -> None:
        if event.get("name") == self.task_name:
            self._ours.add(event["uuid"])

    def on_started(self, event: dict[str, Any]) -> None:
        uuid = event["uuid"]
        if uuid not in self._ours:
            return
        try:
            self._store.mark_running(uuid, started_at=float(event["timestamp"]))
        except AlreadyFinished:
            return
        self._started[uuid] = float(event["timestamp"])

    def _finish(self, event: dict[str, Any], status: str, result: dict[str, Any]) -> None:
        uuid = event["uuid"]
        if uuid not in self._ours:
            return
        started = self._started.pop(uuid, None)
        result["retries"] = self._retries.pop(uuid, 0)
        self._ours.discard(uuid)
        error = None
        if status == FAILED:
            error = str(event.get("exception") or "failed")[:2000]
            result["timed_out"] = error.startswith(TIME_LIMIT_ERRORS)
        self._store.mark_finished(
            uuid, status, started, float(event["timestamp"]), result=result, error=error
        )

    def on_succeeded(self, event: dict[str, Any]) -> None:
        self._finish(event, SUCCEEDED, {"runtime_s": event.get("runtime")})

    def on_failed(self, event: dict[str, Any]) -> None:
        self._finish(event, FAILED, {})

    def on_retried(self, event: dict[str, Any]) -> None:
        uuid = event["uuid"]
        if uuid in self._ours:
            self._retries[uuid] = self._retries.get(uuid, 0) + 1
            self._started.pop(uuid, None)


def record_events(app: Celery, recorder: EventRecorder, ready: Callable[[], object]) -> None:
    """Listen to the broker's event stream until stopped; ``ready`` is called once the event
    queue is bound (from then on no event of a job is missed)."""

    class Receiver(app.events.Receiver):  # type: ignore[misc,name-defined]
        def on_consume_ready(self, *args: Any, **kwargs: Any) -> None:
            super().on_consume_ready(*args, **kwargs)
            ready()

    with app.connection() as connection:
        Receiver(connection, handlers=recorder.handlers(), app=app).capture(
            limit=None, timeout=None, wakeup=False
        )
