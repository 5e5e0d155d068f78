"""Shared pieces of the benchmarks: processes on free ports, wrk runs, interleaved medians.

Benchmarks print ratios measured side by side in one run: this machine is shared and noisy, so
absolute figures drift while ratios of interleaved runs hold.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from burstlab.stack.health import worker_ready
from burstlab.stack.ports import free_port
from burstlab.stack.process import ManagedProcess
from burstlab.stack.redis_server import redis_process

POST_JOB_LUA = """\
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests_per_s: float
    non_2xx: int
    errors: int
    latency_p99_ms: float | None


def wait_http(url: str, timeout_s: float = 30.0) -> None:
    """Wait until ``url`` answers 200."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {timeout_s} s")
        time.sleep(0.1)


def wait_port(port: int, timeout_s: float = 30.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    from burstlab.stack.ports import port_open

    deadline = time.monotonic() + timeout_s
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on {port} after {timeout_s} s")
        time.sleep(0.1)


@contextmanager
def services(*specs: tuple[str, list[str], dict[str, str]]) -> Iterator[list[ManagedProcess]]:
    """Start processes ``(name, argv, env)`` with logs in a temporary folder; stop them after."""
    folder = Path(tempfile.mkdtemp(prefix="burstlab-bench-"))
    started: list[ManagedProcess] = []
    try:
        for name, argv, env in specs:
            process = ManagedProcess(name, argv, {**os.environ, **env}, folder / f"{name}.log")
            process.start()
            started.append(process)
        yield started
    finally:
        for process in reversed(started):
            process.stop()


@contextmanager
def private_redis() -> Iterator[str]:
    """A private Redis on a free port; yields its URL."""
    folder = Path(tempfile.mkdtemp(prefix="burstlab-bench-redis-"))
    port = free_port()
    process = redis_process(port, folder / "data", folder / "redis.log", appendonly=False)
    process.start()
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.stop()


def burstlab(*args: str) -> list[str]:
    """The argv of a burstlab command run with this Python."""
    return [sys.executable, "-m", "burstlab", *args]


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    mode: str | None = "async",
    duration_ms: float = 0,
) -> WrkResult:
    """Run wrk (one thread) posting a job body to ``url``; parse its report.

    ``mode=None`` posts the baseline's own body (no ``mode`` field) for ``POST /work``.
    """
    fields = f'"kind": "io", "duration_ms": {duration_ms:g}'
    body = "{" + (f'"mode": "{mode}", ' if mode else "") + fields + "}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(POST_JOB_LUA.format(body=body))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--latency", "-s", script.name,
         url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = None
    if p99:
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
        p99_ms = float(p99.group(1)) * scale
    return WrkResult(
        requests_per_s=rps,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
        latency_p99_ms=p99_ms,
    )


def interleaved(
    runs: dict[str, Callable[[], float]], rounds: int, between: Callable[[], None] | None = None
) -> dict[str, list[float]]:
    """Run each measurement once per round, alternating; return every value by name."""
    values: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            if between:
                between()
            values[name].append(run())
    return values


def ratio_line(label: str, numerator: list[float], denominator: list[float], goal: float) -> str:
    """``label: median a / median b = r (goal >= g: met|MISSED)`` with the per-round ratios."""
    per_round = [a / b for a, b in zip(numerator, denominator, strict=True)]
    median = statistics.median(per_round)
    verdict = "met" if median >= goal else "MISSED"
    rounds = ", ".join(f"{r:.2f}" for r in per_round)
    return f"{label}: ratio {median:.2f} (rounds: {rounds}); goal >= {goal}: {verdict}"


@dataclass(frozen=True)
class BenchStack:
    """URLs of a stack started for a benchmark."""

    producer_url: str
    baseline_url: str
    redis_url: str
    producer_metrics_url: str
    """The producer's metrics on their own port (a thread, off the event loop)."""
    worker_metrics_url: str
    baseline_metrics_url: str
    worker_pid: int


@contextmanager
def bench_stack(workers: int, baseline_workers: int, **extra: str) -> Iterator[BenchStack]:
    """Redis, baseline, one Celery worker (``workers`` processes) and the producer, as plain
    processes with ``extra`` environment variables (e.g. ``METRICS_ENABLED="0"``)."""
    with private_redis() as redis_url:
        names = ("producer", "baseline", "wmetrics", "bmetrics", "pmetrics")
        ports = {name: free_port() for name in names}
        env = {
            "REDIS_URL": redis_url,
            "PRODUCER_PORT": str(ports["producer"]),
            "PRODUCER_METRICS_PORT": str(ports["pmetrics"]),
            "BASELINE_PORT": str(ports["baseline"]),
            "BASELINE_URL": f"http://127.0.0.1:{ports['baseline']}",
            "BASELINE_WORKERS": str(baseline_workers),
            "BASELINE_METRICS_PORT": str(ports["bmetrics"]),
            "WORKER_CONCURRENCY": str(workers),
            "WORKER_METRICS_PORT": str(ports["wmetrics"]),
            "MAX_BACKLOG": "0",
            **extra,
        }
        specs = [(name, burstlab(name), env) for name in ("baseline", "worker", "producer")]
        with services(*specs) as processes:
            producer = f"http://127.0.0.1:{ports['producer']}"
            wait_http(f"{producer}/readyz")
            deadline = time.monotonic() + 30
            while not worker_ready(redis_url):
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker did not answer a ping in 30 s")
            yield BenchStack(
                producer_url=producer,
                baseline_url=env["BASELINE_URL"],
                redis_url=redis_url,
                producer_metrics_url=f"http://127.0.0.1:{ports['pmetrics']}/metrics",
                worker_metrics_url=f"http://127.0.0.1:{ports['wmetrics']}/metrics",
                baseline_metrics_url=f"http://127.0.0.1:{ports['bmetrics']}/metrics",
                worker_pid=processes[1].pid or 0,
            )
