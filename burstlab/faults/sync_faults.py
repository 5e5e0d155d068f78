"""Faults on the sync path: a gunicorn worker, or the whole baseline, dies under sync traffic.

Sync traffic runs open loop at half the baseline's capacity; every request must get a JSON
answer: 200 with the result, or a quick 503 for the requests the fault hit. No request hangs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

from burstlab.faults.probes import busy_child, rss_mib
from burstlab.faults.report import FaultReport
from burstlab.faults.traffic import Answer, Background, job, refused, stream, unanswered
from burstlab.stack.local import LocalStack, StackConfig

BASELINE_WORKERS = 2
JOB_MS = 50.0
RATE_PER_S = 20.0
"""Half the baseline's capacity (2 workers / 50 ms = 40 jobs/s)."""
DURATION_S = 8.0
FAULT_AT_S = 3.0


def _sync_fault(
    name: str,
    fault: str,
    inject: Callable[[LocalStack], None],
    healthy: Callable[[LocalStack], bool],
) -> FaultReport:
    with LocalStack(StackConfig(workers=1, baseline_workers=BASELINE_WORKERS)) as stack:
        rss_before = rss_mib(stack.producer.pid)[0]
        traffic = Background(
            stream(stack.producer_url, job("sync", JOB_MS), RATE_PER_S, DURATION_S, timeout_s=30)
        )
        time.sleep(FAULT_AT_S)
        fault_at = time.time()
        inject(stack)
        deadline = time.monotonic() + 60
        while not healthy(stack) and time.monotonic() < deadline:
            time.sleep(0.02)
        recovered_at = time.time()
        answers: list[Answer] = traffic.result()
        answers += asyncio.run(stream(stack.producer_url, job("sync", JOB_MS), 20, 1.0))
        rss_after, rss_peak = rss_mib(stack.producer.pid)
    ok = [a for a in answers if a.status == 200 and a.body is not None]
    errors = [a for a in answers if a.status == 503 and a.body is not None]
    after = [a for a in answers if a.sent_at > recovered_at + 0.5]
    codes = sorted({str(a.body.get("error")) for a in errors if a.body})
    return FaultReport(
        name=name,
        fault=fault,
        accepted=len(ok),
        completed=len(ok),
        lost=unanswered(answers),
        refused=refused(answers),
        recovery_s=recovered_at - fault_at,
        rss_mb=(rss_before, rss_peak, rss_after),
        notes={
            "requests": len(answers),
            "503 codes": ",".join(codes) or "none",
            "slowest 503 s": round(max((a.latency_s for a in errors), default=0.0), 3),
            "200 after recovery": f"{sum(a.status == 200 for a in after)}/{len(after)}",
        },
    )


def baseline_worker_kill() -> FaultReport:
    """SIGKILL one gunicorn sync worker under sync traffic; gunicorn replaces it."""
    return _sync_fault(
        "baseline-worker-kill",
        f"SIGKILL one of {BASELINE_WORKERS} gunicorn workers under sync traffic "
        f"({RATE_PER_S:g} jobs/s of {JOB_MS:g} ms); recovery: gunicorn's pool whole again",
        lambda stack: _kill_a_gunicorn_worker(stack),
        lambda stack: len(stack.baseline.child_pids()) == BASELINE_WORKERS,
    )


def _kill_a_gunicorn_worker(stack: LocalStack) -> None:
    before = stack.baseline.child_pids()
    os.kill(busy_child(before), signal.SIGKILL)  # one serving a request
    # Wait until gunicorn saw it go, so "pool whole again" means a replacement.
    deadline = time.monotonic() + 5
    while stack.baseline.child_pids() == before and time.monotonic() < deadline:
        time.sleep(0.01)


def baseline_kill() -> FaultReport:
    """SIGKILL the whole baseline (master and workers) under sync traffic; it is restarted."""
    return _sync_fault(
        "baseline-kill",
        "SIGKILL the whole baseline (gunicorn master + workers) under sync traffic; "
        "the supervisor restarts it; recovery: the producer ready again",
        lambda stack: stack.kill("baseline", signal.SIGKILL),
        lambda stack: _ready(stack),
    )


def _ready(stack: LocalStack) -> bool:
    from burstlab.stack.health import http_ok

    return http_ok(f"{stack.producer_url}/readyz", timeout_s=0.5)
