"""burstlab's hooks in a worker of the user's own Celery app: Celery signals, not a wrapper.

Connected in the worker's main process before it forks its pool, they time every run of the
target task (queue wait, wall and CPU time on the task's thread) and write its record and events
as burstlab's own task does, keyed by the task id (the job id). A task that raises is recorded
failed with its error, one that exceeded a time limit failed and ``timed_out``, and each run
carries the task's retry count. Other tasks of the app are left alone.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import signals
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from burstlab.jobs.record import FAILED, SUCCEEDED
from burstlab.jobs.spec import TASK_KIND
from workers.metrics import WorkerMetrics
from workers.store import AlreadyFinished, JobStore

log = logging.getLogger(__name__)

TIME_LIMITS = (SoftTimeLimitExceeded, TimeLimitExceeded)


class TaskHooks:
    """Records the runs of the task named ``task_name`` through ``store`` and ``metrics``."""

    def __init__(self, task_name: str, store: JobStore, metrics: WorkerMetrics) -> None:
        self.task_name = task_name
        self._store = store
        self._metrics = metrics
        self._running: dict[str, tuple[float, float]] = {}
        """Task id -> (thread CPU time, epoch) at its start, in the process running it."""

    def connect(self) -> None:
        for signal, receiver in (
            (signals.task_prerun, self.on_prerun),
            (signals.task_postrun, self.on_postrun),
            (signals.task_failure, self.on_failure),
        ):
            signal.connect(receiver, weak=False, dispatch_uid=f"burstlab-{receiver.__name__}")

    def _ours(self, task: Any) -> bool:
        return getattr(task, "name", None) == self.task_name

    def on_prerun(self, sender: Any = None, task_id: str = "", **_: Any) -> None:
        if not self._ours(sender):
            return
        try:
            started_at = self._store.mark_running(task_id)
        except AlreadyFinished:
            # A redelivered message of a job that already ended: Celery runs it again (a signal
            # cannot stop it), burstlab counts it as a duplicate and keeps the first outcome.
            self._metrics.duplicates.inc()
            return
        self._running[task_id] = (time.thread_time(), started_at)
        self._metrics.started.labels(TASK_KIND).inc()
        self._metrics.busy.inc()

    def _finish(
        self, task: Any, task_id: str, status: str, exception: BaseException | None = None
    ) -> None:
        finished_at = time.time()
        start = self._running.pop(task_id, None)
        result: dict[str, Any] = {"retries": int(getattr(task.request, "retries", 0) or 0)}
        started_at = None
        if start is not None:
            cpu_started, started_at = start
            result["cpu_seconds"] = round(time.thread_time() - cpu_started, 6)
            self._metrics.busy.dec()
            self._metrics.service.labels(TASK_KIND).observe(finished_at - started_at)
        error = None
        if exception is not None:
            error = f"{type(exception).__name__}: {exception}"[:2000]
            result["error_type"] = type(exception).__name__
            result["timed_out"] = isinstance(exception, TIME_LIMITS)
        self._metrics.finished.labels(TASK_KIND, status).inc()
        self._store.mark_finished(
            task_id, status, started_at, finished_at, result=result, error=error
        )

    def on_postrun(self, sender: Any = None, task_id: str = "", state: str = "", **_: Any) -> None:
        if not self._ours(sender) or task_id not in self._running:
            return
        if state == "SUCCESS":
            self._finish(sender, task_id, SUCCEEDED)
        elif state == "RETRY":
            # The task asked to run again later: the same id comes back as a new run.
            self._running.pop(task_id, None)
            self._metrics.busy.dec()
        # FAILURE was recorded by on_failure, which Celery sends first.

    def on_failure(
        self,
        sender: Any = None,
        task_id: str = "",
        exception: BaseException | None = None,
        **_: Any,
    ) -> None:
        """A run that raised, or (sent by the main process) one killed by its hard time limit."""
        if not self._ours(sender):
            return
        try:
            self._finish(sender, task_id, FAILED, exception or RuntimeError("unknown failure"))
        except Exception:  # a signal receiver must not break the worker
            log.exception("job %s: cannot record its failure", task_id)
