"""Forking servers count exactly: N jobs in, N counted, whichever pool process ran them.

The Celery worker (prefork, 4 processes) and the baseline (gunicorn, 4 sync workers) write
metrics from their children; each main process serves the sum. Killed children are marked
dead, a restart starts from zero, and a scrape is answered while every child is busy.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from burstlab.client import Producer
from burstlab.stack.local import LocalStack, StackConfig

WORKERS = 4
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mp_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of its own: the tests kill and restart its processes."""
    local = LocalStack(
        StackConfig(
            workers=WORKERS, baseline_workers=WORKERS, run_dir=tmp_path_factory.mktemp("mp")
        )
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()


def scrape(url: str, timeout_s: float = 5.0) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a ``/metrics`` page, keyed by name and labels."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        text = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> float:
    """The sum of every series of ``name``."""
    return sum(value for (sample, _), value in samples.items() if sample == name)


def wait_for(check: Any, timeout_s: float = 30.0, interval_s: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; return it (or fail with the last)."""
    deadline = time.monotonic() + timeout_s
    result = check()
    while not result and time.monotonic() < deadline:
        time.sleep(interval_s)
        result = check()
    assert result, f"condition not met within {timeout_s:g} s"
    return result


def children(pid: int) -> list[int]:
    """Live child processes of ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


async def submit_many(url: str, jobs: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    connector = aiohttp.TCPConnector(limit=len(jobs))
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(job: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            async with session.post(f"{url}/jobs", json=job) as response:
                return response.status, dict(await response.json())

        return list(await asyncio.gather(*(one(job) for job in jobs)))


def main_pid_of(process: Any) -> int:
    """The service's main process (the one the stack started)."""
    assert process.pid is not None
    return int(process.pid)


def test_n_async_jobs_on_4_prefork_processes_are_counted_exactly_n_times(
    mp_stack: LocalStack,
) -> None:
    url = mp_stack.metrics_urls["worker"]
    before = scrape(url)
    n = 200
    # When 200 async jobs of 10 ms run on 4 pool processes
    replies = asyncio.run(
        submit_many(mp_stack.producer_url, [{"mode": "async", "kind": "io", "duration_ms": 10}] * n)
    )
    assert [status for status, _ in replies] == [202] * n
    finished = "burstlab_worker_jobs_finished_total"
    wait_for(lambda: total(scrape(url), finished) - total(before, finished) >= n)
    time.sleep(1.0)  # and nothing more trickles in
    after = scrape(url)
    # Then the main process's single endpoint counts every job exactly once
    assert total(after, finished) - total(before, finished) == n
    started = "burstlab_worker_jobs_started_total"
    assert total(after, started) - total(before, started) == n
    waits = "burstlab_worker_queue_wait_seconds_count"
    assert total(after, waits) - total(before, waits) == n
    # though the jobs ran in every one of the 4 processes
    ids = [body["job_id"] for _, body in replies]
    records = list(Producer(mp_stack.producer_url, timeout_s=10).lookup(ids).values())
    assert len({r["result"]["pid"] for r in records}) == WORKERS
    assert all(r["attempts"] == 1 for r in records)
    # And no process is busy any more, and there are exactly 4
    assert total(after, "burstlab_worker_busy_processes") == 0
    assert total(after, "burstlab_worker_processes") == WORKERS
    # And the producer saw each one finish, from the workers' final events
    producer = scrape(mp_stack.metrics_urls["producer"])
    labels = frozenset({"mode": "async", "outcome": "succeeded"}.items())
    assert producer[("burstlab_jobs_completed_total", labels)] >= n


def test_n_sync_jobs_on_4_gunicorn_workers_are_counted_exactly_n_times(
    mp_stack: LocalStack,
) -> None:
    url = mp_stack.metrics_urls["baseline"]
    finished = "burstlab_baseline_jobs_finished_total"
    before = total(scrape(url), finished)
    n = 100
    # When 100 sync jobs of 10 ms run on 4 gunicorn sync workers
    replies = asyncio.run(
        submit_many(mp_stack.producer_url, [{"mode": "sync", "kind": "io", "duration_ms": 10}] * n)
    )
    assert [status for status, _ in replies] == [200] * n
    assert len({body["result"]["pid"] for _, body in replies}) == WORKERS
    after = scrape(url)
    # Then the master counts each exactly once, and none is in flight
    assert total(after, finished) - before == n
    assert total(after, "burstlab_baseline_requests_in_flight") == 0
    assert total(after, "burstlab_baseline_processes") == WORKERS


def test_a_scrape_is_answered_while_every_child_is_busy(mp_stack: LocalStack) -> None:
    Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

    async def scrape_while_busy() -> tuple[dict[str, tuple[Samples, float]], list[int]]:
        # Given 4 sync and 4 async jobs of 3 s holding every process of both pools, 2 more queued
        sync = {"mode": "sync", "kind": "io", "duration_ms": 3000}
        held = asyncio.create_task(submit_many(mp_stack.producer_url, [sync] * (WORKERS + 2)))
        await submit_many(mp_stack.producer_url, [{**sync, "mode": "async"}] * WORKERS)
        await asyncio.sleep(1.0)
        # When both are scraped mid-job
        scrapes = {}
        for job in ("baseline", "worker"):
            started = time.monotonic()
            samples = await asyncio.to_thread(scrape, mp_stack.metrics_urls[job], 2.0)
            scrapes[job] = (samples, time.monotonic() - started)
        return scrapes, [status for status, _ in await held]

    scrapes, statuses = asyncio.run(scrape_while_busy())
    assert statuses == [200] * (WORKERS + 2)
    (baseline, baseline_s), (worker, worker_s) = scrapes["baseline"], scrapes["worker"]
    # Then each answered while the jobs still had 2 s to run (not when a process freed up),
    # showing every process busy
    assert baseline_s < 1.0 and worker_s < 1.0, (baseline_s, worker_s)
    assert total(baseline, "burstlab_baseline_requests_in_flight") == WORKERS
    assert total(worker, "burstlab_worker_busy_processes") == WORKERS


def test_a_killed_pool_process_is_marked_dead_so_live_gauges_do_not_count_it(
    mp_stack: LocalStack,
) -> None:
    for job, process, gauge in (
        ("worker", mp_stack.worker, "burstlab_worker_processes"),
        ("baseline", mp_stack.baseline, "burstlab_baseline_processes"),
    ):
        main = main_pid_of(process)
        url = mp_stack.metrics_urls[job]
        pool = wait_for(lambda main=main: len(children(main)) >= WORKERS and children(main))
        # When one child is killed outright (no exit hook runs in it)
        victim = pool[0]
        os.kill(victim, signal.SIGKILL)
        # Then its parent replaces it, and the live count is back to 4, not 5
        wait_for(
            lambda main=main, victim=victim: (
                victim not in children(main) and len(children(main)) >= WORKERS
            ),
        )
        wait_for(lambda url=url, gauge=gauge: total(scrape(url), gauge) == WORKERS)
        time.sleep(0.5)
        assert total(scrape(url), gauge) == WORKERS, job
        folder = mp_stack.run_dir / "metrics" / job
        assert not list(folder.glob(f"gauge_live*_{victim}.db")), job


def test_a_restarted_worker_counts_from_zero(mp_stack: LocalStack) -> None:
    url = mp_stack.metrics_urls["worker"]
    assert total(scrape(url), "burstlab_worker_jobs_finished_total") > 0
    # When the worker is stopped and started again on the same metrics folder
    mp_stack.worker.stop()
    mp_stack.worker.start()
    wait_for(mp_stack.worker_ready, timeout_s=30)

    def fresh() -> Any:
        try:
            return scrape(url)
        except OSError:
            return None

    samples = wait_for(fresh)
    # Then the previous run's values were wiped at start-up
    assert total(samples, "burstlab_worker_jobs_finished_total") == 0
    assert total(samples, "burstlab_worker_processes") == WORKERS
    # And it counts new jobs again
    replies = asyncio.run(
        submit_many(mp_stack.producer_url, [{"mode": "async", "kind": "io", "duration_ms": 5}] * 8)
    )
    assert [status for status, _ in replies] == [202] * 8
    wait_for(lambda: total(scrape(url), "burstlab_worker_jobs_finished_total") == 8)
