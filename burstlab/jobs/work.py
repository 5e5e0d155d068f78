"""The one work function, run by the sync baseline and by the Celery workers alike.

``io`` jobs sleep for their duration (a process serving one waits, as a blocking I/O call
would). ``cpu`` jobs use ``duration_ms`` of CPU time on their thread (:func:`burn_cpu`): on an
idle core that is about ``duration_ms`` of wall time; on an oversubscribed machine the same
CPU takes longer, as real CPU-bound work does.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from burstlab.jobs.spec import JobSpec

_CHUNK = 200
"""Integer steps between two reads of the thread's CPU clock (about 10 µs of work)."""


def burn_cpu(cpu_s: float) -> float:
    """Run integer arithmetic until this thread has used ``cpu_s`` seconds of CPU; return them.

    The job is defined by the CPU time it consumes, read from the thread's own clock, not by an
    amount of arithmetic: the same job costs the same CPU on a fast or a slow core, and on a
    shared machine it takes longer in wall time, as real CPU-bound work does, without its
    length drifting with the machine's speed from one batch to the next.
    """
    started = time.thread_time()
    deadline = started + cpu_s
    x = 1
    while time.thread_time() < deadline:
        for _ in range(_CHUNK):
            x = (x * 1103515245 + 12345) & 0xFFFFFFFF
    return time.thread_time() - started


@dataclass(frozen=True, slots=True)
class WorkOutcome:
    """What running a job produced, with where and when it ran (epoch seconds)."""

    result: dict[str, Any]
    started_at: float
    finished_at: float


def execute(spec: JobSpec, payload: str = "") -> WorkOutcome:
    """Run ``spec`` in this process and return its result and timings.

    A ``task`` job is the user's own function, which only a service started with that task
    target runs (:mod:`burstlab.jobs.target`); here it raises :class:`ValueError`.
    """
    if spec.kind == "task":
        raise ValueError("a 'task' job runs the user's Celery task: this service has none")
    started_at = time.time()
    result: dict[str, Any] = {
        "kind": spec.kind,
        "duration_ms": spec.duration_ms,
        "payload_bytes": len(payload),
        "pid": os.getpid(),
    }
    if spec.kind == "io":
        if spec.duration_ms > 0:
            time.sleep(spec.duration_ms / 1000.0)
    else:
        result["cpu_seconds"] = round(burn_cpu(spec.duration_ms / 1000.0), 6)
    finished_at = time.time()
    return WorkOutcome(result=result, started_at=started_at, finished_at=finished_at)
