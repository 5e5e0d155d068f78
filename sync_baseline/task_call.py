"""The sync side of a task target: the baseline's workers call the user's task function inline,
as the endpoint did before the work moved to Celery."""

from __future__ import annotations

import os
import time
from typing import Any

from burstlab.jobs.payloads import PayloadError, parse_payload
from burstlab.jobs.record import FAILED, SUCCEEDED
from burstlab.jobs.target import TaskTarget, find_task, load_app


class TaskCaller:
    """Calls the target's task in this process (``task(*args, **kwargs)``, no broker)."""

    def __init__(self, target: TaskTarget) -> None:
        self._task = find_task(load_app(target.app, target.path), target.task)

    def call(self, raw: object) -> tuple[int, dict[str, Any]]:
        """Run one payload: the HTTP status and the reply body (timings, outcome, CPU time).

        A task that raises is a job that failed (200, ``status`` ``failed``, its error): the
        blocking endpoint ran it and it raised. A payload that is not one is a 400.
        """
        try:
            payload = parse_payload(raw, "field 'call'")
        except PayloadError as exc:
            return 400, {"error": "invalid_value", "detail": str(exc)}
        started_cpu, started_at = time.thread_time(), time.time()
        status, error = SUCCEEDED, None
        try:
            self._task(*payload.args, **payload.kwargs)
        except Exception as exc:  # the user's code: any exception is the job's failure
            status, error = FAILED, f"{type(exc).__name__}: {exc}"[:2000]
        finished_at = time.time()
        result = {"cpu_seconds": round(time.thread_time() - started_cpu, 6), "pid": os.getpid()}
        body: dict[str, Any] = {
            "status": status,
            "result": result,
            "timings": {"started_at": started_at, "finished_at": finished_at},
        }
        if error is not None:
            body["error"] = error
        return 200, body
