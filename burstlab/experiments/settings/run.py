"""``burstlab run worker-settings``: the same bursts under a matrix of Celery worker settings.

Each cell starts a local stack with two worker replicas (as a deployment scaled to two), each
with half the processes, the cell's settings given to the workers as their environment, then:

1. an io burst and a cpu burst, all submitted at once: per-task overhead and drain efficiency
   (of N/S) from the jobs' own timestamps; during the io burst, Redis is sampled for the jobs
   held by workers (accepted, not finished, not in the list: invisible to a list-length metric);
2. a few long io jobs, then many short ones: p99 latency of the short ones, which wait
   behind long ones only when a replica busy with long ones holds them while others are idle;
3. a burst of longer jobs during which one replica is SIGKILLed (its supervisor restarts it):
   jobs never finished are lost (with early acks, the jobs it was running).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import redis

from burstlab.client import ProducerClient
from burstlab.experiments.loadgen.generator import client_session
from burstlab.experiments.model.run import finite
from burstlab.experiments.settings.report import render_report
from burstlab.experiments.settings.results import CellResult, drain_figures, held_by_workers, p99
from burstlab.jobs.names import FINISHED_COUNTER_KEY, QUEUE_NAME, UNACKED_KEY
from burstlab.scenario.worker_settings import Matrix, WorkerSettings
from burstlab.stack.health import worker_replies
from burstlab.stack.local import LocalStack, StackConfig
from burstlab.stack.ports import free_port
from burstlab.stack.process import ManagedProcess
from burstlab.telemetry.environment import machine, versions

REPLICAS = 2
VISIBILITY_TIMEOUT_S = 2.0
"""Short, so a killed replica's unacknowledged jobs come back within the cell."""
LOOKUP_CHUNK = 500
DONE = ("succeeded", "failed")


def processes_of(settings: WorkerSettings, per_replica: int) -> int:
    """Jobs the workers run at once: a solo pool runs one per replica."""
    return REPLICAS * (1 if settings.pool == "solo" else per_replica)


class _Sampler(threading.Thread):
    """Samples (accepted, queued, finished) every few ms while a burst drains."""

    def __init__(self, redis_url: str) -> None:
        super().__init__(daemon=True)
        self._client = redis.Redis.from_url(redis_url)
        self._base = int(self._client.get(FINISHED_COUNTER_KEY) or 0)
        self.accepted = 0
        self.samples: list[tuple[int, int, int]] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.01):
            pipe = self._client.pipeline(transaction=False)
            pipe.llen(QUEUE_NAME)
            pipe.get(FINISHED_COUNTER_KEY)
            queued, finished = pipe.execute()
            self.samples.append((self.accepted, queued, int(finished or 0) - self._base))

    def stop(self) -> None:
        self._done.set()
        self.join()


async def _submit(
    client: ProducerClient, jobs: list[tuple[str, float]], on_accept: Any
) -> list[str]:
    async def one(kind: str, ms: float) -> str:
        reply = await client.submit("async", kind, ms)
        on_accept()
        return str(reply["job_id"])

    return list(await asyncio.gather(*(one(kind, ms) for kind, ms in jobs)))


async def _submit_in_order(client: ProducerClient, jobs: list[tuple[str, float]]) -> list[str]:
    """Submit the first job alone, then the rest at once, so the first are first in the queue."""
    ids = await _submit(client, jobs[:1], lambda: None)
    return ids + await _submit(client, jobs[1:], lambda: None)


async def _collect(
    client: ProducerClient, ids: list[str], timeout_s: float
) -> dict[str, dict[str, Any]]:
    """Every job's record once all are done (or what there is at the timeout)."""
    deadline = time.monotonic() + timeout_s
    records: dict[str, dict[str, Any]] = {}
    while True:
        pending = [i for i in ids if records.get(i, {}).get("status") not in DONE]
        for start in range(0, len(pending), LOOKUP_CHUNK):
            records.update(await client.lookup(pending[start : start + LOOKUP_CHUNK]))
        if all(records[i].get("status") in DONE for i in ids) or time.monotonic() > deadline:
            return records
        await asyncio.sleep(0.1)


def _timings(records: dict[str, dict[str, Any]], ids: list[str], field: str) -> list[float]:
    return [
        records[i]["timings"][field]
        for i in ids
        if records[i].get("status") == "succeeded" and records[i]["timings"].get(field)
    ]


async def _burst(
    client: ProducerClient, kind: str, ms: float, count: int, processes: int, timeout_s: float
) -> tuple[float, float]:
    ids = await _submit(client, [(kind, ms)] * count, lambda: None)
    records = await _collect(client, ids, timeout_s)
    starts, ends = _timings(records, ids, "started_at"), _timings(records, ids, "finished_at")
    return drain_figures(starts, ends, processes, ms)


async def _io_burst(
    client: ProducerClient, redis_url: str, matrix: Matrix, processes: int
) -> tuple[tuple[float, float], tuple[int, float]]:
    """One io burst: (overhead, efficiency) and (peak held, share held at half drain)."""
    sampler = _Sampler(redis_url)
    sampler.start()

    def accepted() -> None:
        sampler.accepted += 1

    ids = await _submit(client, [("io", matrix.io_ms)] * matrix.io_jobs, accepted)
    timeout_s = matrix.settle_timeout_s + matrix.io_jobs * matrix.io_ms / 1000
    records = await _collect(client, ids, timeout_s)
    sampler.stop()
    figures = drain_figures(
        _timings(records, ids, "started_at"),
        _timings(records, ids, "finished_at"),
        processes,
        matrix.io_ms,
    )
    return figures, held_by_workers(sampler.samples, matrix.io_jobs)


async def _settled(redis_url: str, accepted: int, base: int, timeout_s: float) -> None:
    """Wait until every accepted job finished, or nothing is queued, held or finishing."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        finished = int(client.get(FINISHED_COUNTER_KEY) or 0) - base
        if finished >= accepted:
            return
        if finished != last:
            last, quiet_since = finished, time.monotonic()
        idle = client.llen(QUEUE_NAME) == 0 and client.hlen(UNACKED_KEY) == 0
        if idle and time.monotonic() - quiet_since > 2.0:
            return
        await asyncio.sleep(0.1)


async def measure_cell(stack: LocalStack, settings: WorkerSettings, matrix: Matrix) -> CellResult:
    """Run the three workloads of one cell against a running stack."""
    per_replica = max(1, matrix.concurrency // REPLICAS)
    processes = processes_of(settings, per_replica)
    cpu_servers = min(processes, os.cpu_count() or processes)
    timeout_s = matrix.settle_timeout_s
    async with client_session() as session:
        client = ProducerClient(stack.producer_url, session, timeout_s=60)
        # 1. io and cpu bursts, alternating, ``repeats`` times each
        io: list[tuple[float, float]] = []
        cpu: list[tuple[float, float]] = []
        held: list[tuple[int, float]] = []
        for _ in range(matrix.repeats):
            figures, held_figures = await _io_burst(client, stack.redis_url, matrix, processes)
            io.append(figures)
            held.append(held_figures)
            cpu.append(
                await _burst(
                    client, "cpu", matrix.cpu_ms, matrix.cpu_jobs, cpu_servers,
                    timeout_s + matrix.cpu_jobs * matrix.cpu_ms / 1000,
                )
            )  # fmt: skip
        # 2. mixed: short jobs among long ones
        # Long jobs first, on fewer processes than there are: a short job never needs to wait
        # for a long one, unless a replica busy with long ones holds it while others are idle.
        jobs = [("long", matrix.long_ms)] * min(matrix.long_jobs, processes - 1)
        jobs += [("short", matrix.short_ms)] * matrix.short_jobs
        ids = await _submit_in_order(client, [("io", ms) for _, ms in jobs])
        work_s = sum(ms for _, ms in jobs) / 1000
        records = await _collect(client, ids, timeout_s + work_s)
        short_latency = [
            (records[i]["timings"]["finished_at"] - records[i]["timings"]["submitted_at"]) * 1000
            for i, (what, _) in zip(ids, jobs, strict=True)
            if what == "short" and records[i].get("status") == "succeeded"
        ]
        # 3. kill one replica mid-burst
        base = int(redis.Redis.from_url(stack.redis_url).get(FINISHED_COUNTER_KEY) or 0)
        kill_ids = await _submit(client, [("io", matrix.kill_ms)] * matrix.kill_jobs, lambda: None)
        await asyncio.sleep(matrix.kill_ms * 1.5 / 1000)
        stack.kill("worker")
        await _settled(stack.redis_url, len(kill_ids), base, timeout_s)
        records = await _collect(client, kill_ids, 1.0)
        lost = sum(1 for i in kill_ids if records[i].get("status") not in DONE)
    return CellResult(
        settings=settings,
        processes=processes,
        io_overhead_ms=statistics.median(o for o, _ in io),
        io_efficiency=statistics.median(e for _, e in io),
        io_efficiency_range=(min(e for _, e in io), max(e for _, e in io)),
        cpu_overhead_ms=statistics.median(o for o, _ in cpu),
        cpu_efficiency=statistics.median(e for _, e in cpu),
        cpu_efficiency_range=(min(e for _, e in cpu), max(e for _, e in cpu)),
        held_peak=max(peak for peak, _ in held),
        held_share_half=statistics.median(share for _, share in held),
        short_p99_ms=p99(short_latency),
        short_stuck=sum(1 for ms in short_latency if ms >= matrix.long_ms),
        killed_lost=lost,
        kill_accepted=len(kill_ids),
    )


def _second_replica(stack: LocalStack) -> ManagedProcess:
    first = stack.service("worker")
    env = {
        **first.env,
        "WORKER_METRICS_PORT": str(free_port()),
        "PROMETHEUS_MULTIPROC_DIR": str(stack.run_dir / "metrics" / "worker-2"),
    }
    return ManagedProcess("worker-2", first.argv, env, stack.run_dir / "worker-2.log")


def run_cell(settings: WorkerSettings, matrix: Matrix) -> CellResult:
    """Start a stack with two replicas under ``settings``, measure, stop it."""
    per_replica = max(1, matrix.concurrency // REPLICAS)
    env = {
        **settings.env(),
        "VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
        "WORKER_STALL_TIMEOUT_S": "0",
        "MAX_BACKLOG": "0",
    }
    config = StackConfig(workers=per_replica, baseline_workers=1, extra_env=env)
    with LocalStack(config) as stack:
        replica = _second_replica(stack)
        replica.start()
        try:
            deadline = time.monotonic() + 60
            while worker_replies(stack.redis_url) < REPLICAS:
                if time.monotonic() > deadline or not replica.is_running():
                    raise RuntimeError(f"the second worker replica did not start: {replica.tail()}")
                time.sleep(0.2)
            return asyncio.run(measure_cell(stack, settings, matrix))
        finally:
            replica.stop()


def run_matrix(
    matrix: Matrix,
    out_dir: Path,
    *,
    name: str,
    note: Any = print,
) -> tuple[list[CellResult], list[Path]]:
    """Run every cell of ``matrix``; write ``summary.json`` and ``report.md`` to ``out_dir``."""
    started = time.time()
    results = []
    cells = matrix.cells()
    for n, settings in enumerate(cells, 1):
        note(f"[{n}/{len(cells)}] {settings.label}")
        results.append(run_cell(settings, matrix))
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "scenario": name,
        "kind": "worker-settings",
        "started_at": started,
        "elapsed_s": time.time() - started,
        "machine": machine(),
        "versions": versions(),
        "replicas": REPLICAS,
        "concurrency": matrix.concurrency,
        "cells": [r.to_dict() for r in results],
    }
    summary_path = out_dir / "summary.json"
    summary_path.write_text(json.dumps(finite(summary), indent=2, allow_nan=False) + "\n")
    report_path = out_dir / "report.md"
    report_path.write_text(render_report(results, matrix, replicas=REPLICAS))
    return results, [summary_path, report_path]
