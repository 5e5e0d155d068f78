"""The one work function, run by the sync baseline and by the Celery workers alike.

``io`` jobs sleep for their duration (a process serving one waits, as a blocking I/O call
would). ``cpu`` jobs run a fixed amount of arithmetic, calibrated once per process so that
on an idle core it takes about ``duration_ms``; on an oversubscribed machine the same
amount of work takes longer, as real CPU-bound work does.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from burstlab.jobs.spec import JobSpec

_CHUNK = 2_000
_CALIBRATION_S = 0.02
_calibrated_rate: float | None = None


def _spin(chunks: int) -> int:
    """Burn CPU for ``chunks`` chunks of integer arithmetic; return a value so it is not elided."""
    x = 1
    for _ in range(chunks):
        for _ in range(_CHUNK):
            x = (x * 1103515245 + 12345) & 0xFFFFFFFF
    return x


def calibrate(force: bool = False) -> float:
    """Measure (once per process) how many spin chunks this CPU runs per second.

    Trials are timed in this process's CPU time, not wall time, so a machine busy with
    other processes while a worker starts does not skew the calibration; the fastest of a
    few trials is kept.
    """
    global _calibrated_rate
    if _calibrated_rate is not None and not force:
        return _calibrated_rate
    best = 0.0
    chunks = 4
    for _ in range(5):
        start = time.process_time()
        _spin(chunks)
        elapsed = time.process_time() - start
        if elapsed < _CALIBRATION_S / 5:
            chunks *= 2
            continue
        best = max(best, chunks / elapsed)
    if best == 0.0:
        start = time.process_time()
        _spin(chunks)
        best = chunks / max(time.process_time() - start, 1e-9)
    _calibrated_rate = best
    return best


_LEARN_MIN_CHUNKS = 40


def _learn_rate(chunks: int, cpu_seconds: float) -> None:
    """Raise the calibrated rate if a job just ran faster per CPU-second than calibration said.

    Processes often calibrate while the machine is busy starting other services (sibling
    hyperthreads and shared caches slow every process down then); the fastest rate a real
    job reaches is the better estimate of an idle core, so the rate only ever goes up.
    """
    global _calibrated_rate
    if chunks < _LEARN_MIN_CHUNKS or cpu_seconds <= 0 or _calibrated_rate is None:
        return
    _calibrated_rate = max(_calibrated_rate, chunks / cpu_seconds)


@dataclass(frozen=True, slots=True)
class WorkOutcome:
    """What running a job produced, with where and when it ran (epoch seconds)."""

    result: dict[str, Any]
    started_at: float
    finished_at: float


def execute(spec: JobSpec, payload: str = "") -> WorkOutcome:
    """Run ``spec`` in this process and return its result and timings."""
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
        chunks = round(calibrate() * spec.duration_ms / 1000.0)
        started_cpu = time.process_time()
        _spin(chunks)
        cpu_seconds = time.process_time() - started_cpu
        _learn_rate(chunks, cpu_seconds)
        result["cpu_chunks"] = chunks
        result["cpu_seconds"] = round(cpu_seconds, 6)
    finished_at = time.time()
    return WorkOutcome(result=result, started_at=started_at, finished_at=finished_at)
