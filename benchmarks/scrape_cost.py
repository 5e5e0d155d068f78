"""Benchmark 5: scrape cost. /metrics of every service while a burst runs, and the size of the
workers' multiprocess folder over repeated bursts.

Starts a stack (4 Celery processes, 4 gunicorn workers), fires ROUNDS bursts (async jobs at
1,000/s and sync jobs at 50/s, open loop, for SECONDS), and scrapes every INTERVAL_S throughout
(default 1 s, Prometheus' scrape interval), from another process: the producer's metrics on
their own port (a thread: what Prometheus scrapes), the same on the API port (``GET /metrics``,
on the event loop, behind the burst's requests), the worker's and the baseline's. Prints each
endpoint's scrape duration p50/p99/max (goal p99 < 30 ms at 1 s scrapes), the share of the time
it spends answering scrapes (mean duration / interval), the producer's own time inside its
handler, and the worker's multiprocess folder (files, bytes) after each burst: it must not grow.
It runs twice, on a stack whose services hand the GIL over every 5 ms (Python's default), then
every 1 ms (burstlab's default, METRICS_SWITCH_INTERVAL_MS): a scrape from a metrics thread
waits for the GIL at each socket operation while the process's busy thread works through a burst.

Run: .venv/bin/python -m benchmarks.scrape_cost [ROUNDS] [SECONDS] [INTERVAL_S]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from benchmarks.harness import bench_stack
from burstlab.experiments.loadgen.generator import generate
from burstlab.experiments.model.stats import percentiles_ms
from burstlab.scenario.schedule import PlannedJob, Schedule

GOAL_P99_MS = 30.0


def multiproc_dir(pid: int) -> Path | None:
    """The worker's multiprocess folder: a ``burstlab-worker-metrics-*`` temporary folder that
    holds files named after the worker's pool processes."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for folder in Path(tempfile.gettempdir()).glob("burstlab-worker-metrics-*"):
        if any(folder.glob(f"*_{child}.db") for child in children):
            return folder
    return None


SCRAPER = """
import json, signal, sys, time, urllib.request
# A background job starts with SIGINT ignored; the scraper stops on it, so take it back.
signal.signal(signal.SIGINT, signal.default_int_handler)
interval, urls = float(sys.argv[1]), sys.argv[2:]
durations = {url: [] for url in urls}
try:
    next_at = time.monotonic()
    while True:
        for url in urls:
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=10) as response:
                response.read()
            durations[url].append(time.perf_counter() - started)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
except KeyboardInterrupt:
    print(json.dumps(durations))
"""


@contextlib.contextmanager
def scraping(urls: list[str], interval_s: float) -> Iterator[dict[str, list[float]]]:
    """Scrape ``urls`` every ``interval_s`` from a separate process while the body runs."""
    found: dict[str, list[float]] = {}
    argv = [sys.executable, "-c", SCRAPER, str(interval_s), *urls]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    try:
        yield found
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        found.update(json.loads(out))


def producer_inside(url: str) -> tuple[float, float]:
    """The producer's own view: mean time inside its /metrics handler, and mean loop lag."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    values = {
        (sample.name, sample.labels.get("route")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    route = "burstlab_http_request_duration_seconds"
    lag = "burstlab_event_loop_lag_seconds"
    return (
        values[f"{route}_sum", "/metrics"] / max(values[f"{route}_count", "/metrics"], 1),
        values[f"{lag}_sum", None] / max(values[f"{lag}_count", None], 1),
    )


def _steady(rate: float, seconds: float, duration_ms: float) -> Schedule:
    count = int(rate * seconds)
    items = tuple(PlannedJob(i / rate, "io", duration_ms) for i in range(count))
    return Schedule(items=items, duration_s=seconds)


async def burst(producer: str, seconds: float) -> None:
    """A burst as the experiments send it (open loop): async jobs at 1,000/s and sync jobs at
    50/s for ``seconds``; returns when every request was answered."""
    await asyncio.gather(
        generate(producer, "async", _steady(1000, seconds, 10), timeout_s=60),
        generate(producer, "sync", _steady(50, seconds, 10), timeout_s=60),
    )


SWITCH_INTERVALS_MS = (5.0, 1.0)
"""The services' GIL switch interval: Python's default, then METRICS_SWITCH_INTERVAL_MS's."""


def measure(rounds: int, seconds: float, interval_s: float, switch_ms: float) -> None:
    """One stack with the services' switch interval at ``switch_ms``: print each endpoint."""
    sizes = []
    with bench_stack(4, 4, METRICS_SWITCH_INTERVAL_MS=f"{switch_ms:g}") as stack:
        endpoints = {
            "producer": stack.producer_metrics_url,
            "producer-api": f"{stack.producer_url}/metrics",
            "worker": stack.worker_metrics_url,
            "baseline": stack.baseline_metrics_url,
        }
        folder = multiproc_dir(stack.worker_pid)
        with scraping(list(endpoints.values()), interval_s) as by_url:
            for _ in range(rounds):
                asyncio.run(burst(stack.producer_url, seconds))
                if folder is not None:
                    files = list(folder.glob("*.db"))
                    sizes.append((len(files), sum(f.stat().st_size for f in files)))
        inside = producer_inside(endpoints["producer-api"])
    durations = {name: by_url[url] for name, url in endpoints.items()}
    print(
        f"switch interval {switch_ms:g} ms: {rounds} bursts of {seconds:g} s "
        f"(async 1,000/s + sync 50/s), scraping every {interval_s:g} s"
    )
    for name, values in durations.items():
        stats = percentiles_ms(values)
        verdict = "met" if (stats["p99"] or 0) < GOAL_P99_MS else "MISSED"
        share = sum(values) / len(values) / interval_s if values else 0.0
        print(
            f"  {name:12s} scrape ms p50 {stats['p50']:6.1f}  p99 {stats['p99']:6.1f}  "
            f"max {stats['max']:6.1f}  ({stats['count']} scrapes); "
            f"goal p99 < {GOAL_P99_MS:g} ms: {verdict}; "
            f"busy answering {share:.1%} of the time"
        )
    handler_s, lag_s = inside
    print(
        f"  producer-api: {handler_s * 1000:.1f} ms mean inside the /metrics handler "
        f"(rendering), {lag_s * 1000:.1f} ms mean event-loop lag: the rest of a scrape waits "
        "for the loop"
    )
    print(
        "  worker multiprocess folder after each burst (files, bytes): "
        + ", ".join(f"({n}, {b})" for n, b in sizes)
    )


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5
    interval_s = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    for switch_ms in SWITCH_INTERVALS_MS:
        measure(rounds, seconds, interval_s, switch_ms)


if __name__ == "__main__":
    main()
