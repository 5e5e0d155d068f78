"""METRICS_ENABLED=0 (for measuring what metrics cost) leaves every job path working."""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from burstlab.client import Producer
from burstlab.stack.ports import free_port
from burstlab.stack.process import ManagedProcess
from burstlab.stack.redis_server import redis_process


def _wait_ready(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} not ready"
        time.sleep(0.2)


@pytest.mark.slow
def test_services_without_metrics_run_jobs_in_both_modes_and_serve_no_metrics(
    tmp_path: Path,
) -> None:
    # Given redis, baseline, worker and producer started with METRICS_ENABLED=0
    redis_port, baseline_port, producer_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "METRICS_ENABLED": "0",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "BASELINE_PORT": str(baseline_port),
        "BASELINE_URL": f"http://127.0.0.1:{baseline_port}",
        "PRODUCER_PORT": str(producer_port),
    }
    processes = [redis_process(redis_port, tmp_path / "data", tmp_path / "redis.log")]
    for name in ("baseline", "worker", "producer"):
        argv = [sys.executable, "-m", "burstlab", name]
        processes.append(ManagedProcess(name, argv, env, tmp_path / f"{name}.log"))
    for process in processes:
        process.start()
    url = f"http://127.0.0.1:{producer_port}"
    try:
        _wait_ready(f"{url}/readyz")
        # When a sync and an async job are submitted, Then both succeed
        producer = Producer(url, timeout_s=10)
        sync = producer.submit("sync", "io", 1)
        assert sync["status"] == "succeeded"
        accepted = producer.submit("async", "io", 1)
        assert producer.get_job(accepted["job_id"], wait_s=20)["status"] == "succeeded"
        # And the producer serves no metrics
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{url}/metrics", timeout=5)
        assert missing.value.code == 404
    finally:
        for process in reversed(processes):
            process.stop()
