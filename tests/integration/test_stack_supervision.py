"""The local stack restarts what dies, as compose's ``restart: unless-stopped`` does."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from burstlab.client import Producer
from burstlab.jobs.names import QUEUE_NAME
from burstlab.stack.local import LocalStack, StackConfig
from burstlab.stack.process import descendant_pids
from workers.app import create_celery_app
from workers.config import WorkerConfig

pytestmark = pytest.mark.dependency_faults

JOB = {"kind": "io", "duration_ms": 5}


def _post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        f"{url}/jobs", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def _finished(url: str, job_id: object, wait_s: int = 20) -> bool:
    return Producer(url, timeout_s=5).get_job(str(job_id), wait_s)["status"] == "succeeded"


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    run_dir = tmp_path_factory.mktemp("supervised")
    config = StackConfig(
        workers=2, baseline_workers=1, run_dir=run_dir, extra_env={"WORKER_STALL_TIMEOUT_S": "3"}
    )
    with LocalStack(config) as local:
        yield local


@pytest.mark.parametrize("service", ["worker", "baseline", "producer", "redis"])
def test_a_service_killed_with_sigkill_is_restarted_and_serves_again(
    supervised: LocalStack, service: str
) -> None:
    # Given a running stack
    before = supervised.supervisor.restarts(service) if supervised.supervisor else 0
    # When the service's whole process group is killed
    supervised.kill(service, signal.SIGKILL)
    # Then the supervisor restarts it, saying why, and it becomes healthy again
    deadline = time.monotonic() + 10
    while supervised.supervisor and supervised.supervisor.restarts(service) == before:
        assert time.monotonic() < deadline, f"{service} was not restarted"
        time.sleep(0.05)
    supervised.wait_healthy(service)
    assert supervised.restart_events[-1].name == service
    assert supervised.restart_events[-1].reason == "killed by SIGKILL"
    supervised.wait_healthy("producer")
    supervised.wait_healthy("worker", timeout_s=60)
    # And jobs run in both modes again
    assert _post(supervised.producer_url, {"mode": "sync", **JOB})[0] == 200
    status, body = _post(supervised.producer_url, {"mode": "async", **JOB})
    assert status == 202 and _finished(supervised.producer_url, body["job_id"])


def test_a_service_stopped_on_purpose_stays_down_until_it_is_started(
    supervised: LocalStack,
) -> None:
    restarts = len(supervised.restart_events)
    supervised.stop_service("worker")
    time.sleep(1.0)
    assert not supervised.worker.is_running()
    supervised.start_service("worker")
    assert supervised.worker.is_running()
    assert len(supervised.restart_events) == restarts


def test_a_worker_that_stops_consuming_is_detected_and_restarted(supervised: LocalStack) -> None:
    # Given a worker that is alive and answers pings but no longer consumes the queue
    # (what Celery's known reconnect bugs look like)
    restarts = supervised.supervisor.restarts("worker") if supervised.supervisor else 0
    app = create_celery_app(WorkerConfig(redis_url=supervised.redis_url))
    try:
        replies = app.control.cancel_consumer(QUEUE_NAME, reply=True, timeout=2)
    finally:
        app.close()
    assert replies and "no longer consuming" in str(replies)
    # When jobs are queued
    started = time.monotonic()
    ids = [_post(supervised.producer_url, {"mode": "async", **JOB})[1]["job_id"] for _ in range(3)]
    # Then the watchdog notices within its 3 s stall timeout, the worker is restarted, and
    # every job completes
    assert all(_finished(supervised.producer_url, job_id, 30) for job_id in ids)
    assert supervised.supervisor is not None
    assert supervised.supervisor.restarts("worker") == restarts + 1
    assert "worker stopped consuming" in supervised.worker.log_path.read_text()
    assert time.monotonic() - started < 20


def test_stack_up_keeps_running_through_a_crashed_worker_and_says_why() -> None:
    # Given `burstlab stack up`
    proc = subprocess.Popen(
        [sys.executable, "-m", "burstlab", "stack", "up", "--port", "0", "--workers", "1",
         "--baseline-workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "ready" in line:
                break
        url = re.search(r"producer\s+(http://\S+)", "".join(lines)).group(1)  # type: ignore[union-attr]
        workers = [
            pid for pid in descendant_pids(proc.pid) if b"burstlab\x00worker" in _cmdline(pid)
        ]
        assert workers
        # When the worker's main process is killed
        subprocess.run(["kill", "-9", str(min(workers))], check=True)
        for line in proc.stdout:
            lines.append(line)
            if "restarted" in line:
                break
        # Then it says which service died and why, keeps running, and jobs complete again
        output = "".join(lines)
        assert "worker exited unexpectedly (killed by SIGKILL)" in output, output
        assert proc.poll() is None
        status, body = _post(url, {"mode": "async", **JOB})
        assert status == 202 and _finished(url, body["job_id"], 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
