"""Overload: ten times the capacity offered for 30 s, on each path.

Sync: the producer forwards at most ``SYNC_MAX_INFLIGHT`` jobs; the rest wait at most
``SYNC_QUEUE_TIMEOUT_S`` for a slot, then get 503 ``overloaded`` (load shedding), so no
request hangs and the producer's memory stays bounded. Async: jobs are accepted until the
queue holds ``MAX_BACKLOG``, then refused with 429 and ``Retry-After``; every accepted job
completes. Afterwards the system drains and the latency is back to its unloaded level.

The async scenario runs on either broker (``broker="redis"`` or ``"rabbitmq"``); on RabbitMQ
the backlog limit is checked per publish batch against the queue's ready count.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time

from burstlab.client import ProducerClient, ProducerError
from burstlab.faults.probes import ledger, rss_mib, wait_until_final
from burstlab.faults.report import FaultReport
from burstlab.faults.traffic import (
    Answer,
    accepted_ids,
    burst,
    job,
    refused,
    stream,
    unanswered,
)
from burstlab.stack.local import SYNC_IN_FLIGHT_PER_BASELINE_WORKER, LocalStack, StackConfig

WORKERS = 2
JOB_MS = 50.0
CAPACITY_PER_S = WORKERS / (JOB_MS / 1000)
OVERLOAD = 10
DURATION_S = 30.0
SYNC_QUEUE_TIMEOUT_S = 2.0
MAX_BACKLOG = 200
PROBES = 10


async def _probe_latency_ms(producer_url: str, mode: str) -> float:
    """Median end-to-end latency of sequential single jobs on an idle system."""
    samples = []
    for _ in range(PROBES):
        started = time.perf_counter()
        answer = (await burst(producer_url, job(mode, JOB_MS), 1))[0]
        if mode == "async" and answer.job_id:
            async with ProducerClient(producer_url) as client:
                with contextlib.suppress(ProducerError):
                    await client.wait(answer.job_id, timeout_s=30)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _notes(
    answers: list[Answer], before_ms: float, after_ms: float, duration_s: float
) -> dict[str, object]:
    shed = [a for a in answers if a.status in (429, 503)]
    latencies = sorted(a.latency_s for a in answers)
    return {
        "offered": f"{len(answers):,} in {duration_s:g} s ({OVERLOAD}x capacity)",
        "slowest answer s": round(latencies[-1], 2) if latencies else 0.0,
        "slowest refusal s": round(max((a.latency_s for a in shed), default=0.0), 3),
        "refusal codes": ",".join(sorted({str((a.body or {}).get("error")) for a in shed})),
        "unloaded p50 ms before/after": f"{before_ms:.0f}/{after_ms:.0f}",
    }


def overload_sync(duration_s: float = DURATION_S) -> FaultReport:
    """Sync jobs at 10x the baseline's capacity for ``duration_s``, with producer-side shedding."""
    env = {"SYNC_QUEUE_TIMEOUT_S": str(SYNC_QUEUE_TIMEOUT_S)}
    config = StackConfig(workers=1, baseline_workers=WORKERS, extra_env=env)
    with LocalStack(config) as stack:
        url = stack.producer_url
        before_ms = asyncio.run(_probe_latency_ms(url, "sync"))
        rss_before = rss_mib(stack.producer.pid)[0]
        rate = OVERLOAD * CAPACITY_PER_S
        answers = asyncio.run(stream(url, job("sync", JOB_MS), rate, duration_s, timeout_s=60))
        after_ms = asyncio.run(_probe_latency_ms(url, "sync"))
        rss_after, rss_peak = rss_mib(stack.producer.pid)
    ok = sum(1 for a in answers if a.status == 200 and a.body is not None)
    notes = _notes(answers, before_ms, after_ms, duration_s)
    notes["in flight / wait bound"] = (
        f"{SYNC_IN_FLIGHT_PER_BASELINE_WORKER * WORKERS} / {SYNC_QUEUE_TIMEOUT_S:g} s"
    )
    return FaultReport(
        name="overload-sync",
        fault=f"sync jobs of {JOB_MS:g} ms at {rate:g}/s for {duration_s:g} s on "
        f"{WORKERS} gunicorn workers",
        accepted=ok,
        completed=ok,
        lost=unanswered(answers),
        refused=refused(answers),
        recovery_s=None,
        rss_mb=(rss_before, rss_peak, rss_after),
        notes=notes,
    )


def overload_async(duration_s: float = DURATION_S, broker: str = "redis") -> FaultReport:
    """Async jobs at 10x the workers' capacity for ``duration_s``, with a bounded backlog, on
    ``broker``."""
    config = StackConfig(
        workers=WORKERS,
        baseline_workers=1,
        extra_env={"MAX_BACKLOG": str(MAX_BACKLOG)},
        broker=broker,
    )
    with LocalStack(config) as stack:
        url = stack.producer_url
        before_ms = asyncio.run(_probe_latency_ms(url, "async"))
        rss_before = rss_mib(stack.producer.pid)[0]
        rate = OVERLOAD * CAPACITY_PER_S
        answers = asyncio.run(stream(url, job("async", JOB_MS), rate, duration_s, timeout_s=60))
        ended = time.time()
        accepted = accepted_ids(answers, 202)
        views = wait_until_final(url, accepted, 120)
        drained = max((float(v["timings"]["finished_at"] or 0) for v in views.values()), default=0)
        completed, lost, duplicated = ledger(views, accepted)
        after_ms = asyncio.run(_probe_latency_ms(url, "async"))
        rss_after, rss_peak = rss_mib(stack.producer.pid)
    notes = _notes(answers, before_ms, after_ms, duration_s)
    notes["broker"] = broker
    notes["max backlog"] = MAX_BACKLOG
    notes["drained s after the load"] = round(max(0.0, drained - ended), 2)
    return FaultReport(
        name="overload-async",
        fault=f"async jobs of {JOB_MS:g} ms at {rate:g}/s for {duration_s:g} s on "
        f"{WORKERS} Celery workers, MAX_BACKLOG={MAX_BACKLOG}",
        accepted=len(accepted),
        completed=completed,
        lost=lost + unanswered(answers),
        duplicated=duplicated,
        refused=refused(answers),
        recovery_s=round(max(0.0, drained - ended), 2),
        rss_mb=(rss_before, rss_peak, rss_after),
        notes=notes,
    )
