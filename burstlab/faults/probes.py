"""Reading the system under a fault: process memory, jobs held by workers, job records."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import redis

from burstlab.client import Producer, ProducerError
from burstlab.jobs.names import UNACKED_KEY
from burstlab.jobs.record import FINAL_STATUSES, extra_deliveries


def rss_mib(pid: int | None) -> tuple[float, float]:
    """A process' resident memory now and its high-water mark (MiB), from ``/proc``."""
    if pid is None:
        return 0.0, 0.0
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def running_a_job(pid: int) -> bool:
    """Whether a pool process is in the middle of an io job (asleep in it, not waiting for one)."""
    try:
        return "nanosleep" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


def busy_child(children: list[int], timeout_s: float = 2.0) -> int:
    """One of ``children`` running a job (polled for up to ``timeout_s``), else the first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        busy = [pid for pid in children if running_a_job(pid)]
        if busy:
            return busy[0]
        time.sleep(0.005)
    return children[0]


def held_job_ids(redis_url: str) -> set[str]:
    """Ids of the jobs workers hold now: delivered, not acknowledged (running or prefetched)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        held = set()
        for raw in client.hvals(UNACKED_KEY):
            message = json.loads(raw)[0]
            held.add(str(message["headers"]["id"]))
        return held
    finally:
        client.close()


def lookup(producer_url: str, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Every known job's public view, by id, through ``POST /jobs/lookup``."""
    return Producer(producer_url, timeout_s=30).lookup(job_ids)


def wait_until_final(
    producer_url: str, job_ids: list[str], timeout_s: float
) -> dict[str, dict[str, Any]]:
    """Poll (every 0.5 s) until every job is final or the timeout passes; return the views."""
    deadline = time.monotonic() + timeout_s
    views: dict[str, dict[str, Any]] = {}
    pending = list(job_ids)
    while True:
        with contextlib.suppress(ProducerError):  # the producer or its broker may be back soon
            views.update(lookup(producer_url, pending))
        pending = [i for i in job_ids if views.get(i, {}).get("status") not in FINAL_STATUSES]
        if not pending or time.monotonic() > deadline:
            return views
        time.sleep(0.5)


def ledger(views: dict[str, dict[str, Any]], accepted: list[str]) -> tuple[int, int, int]:
    """Check accepted job ids against their records: (completed, lost, duplicate deliveries).

    Duplicates are runs after the first (``attempts`` - 1) plus deliveries of a job that had
    already finished, which were acknowledged without running (``duplicates``).
    """
    completed = sum(1 for i in accepted if views.get(i, {}).get("status") in FINAL_STATUSES)
    duplicated = sum(extra_deliveries(views.get(i, {})) for i in accepted)
    return completed, len(accepted) - completed, duplicated


def last_finish(views: dict[str, dict[str, Any]], job_ids: set[str]) -> float | None:
    """The latest ``finished_at`` among ``job_ids`` (epoch seconds), if any finished."""
    ends = [
        float(views[i]["timings"]["finished_at"])
        for i in job_ids
        if i in views and views[i]["timings"].get("finished_at") is not None
    ]
    return max(ends) if ends else None
