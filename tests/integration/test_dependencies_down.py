"""When the baseline or the broker is down or hung, the producer answers 503 quickly.

Quickly: a refused connection at once, a hung one once the configured timeout passes. The
bound (30 s of room) is far from both sides of that: a starved machine may add seconds to a
0.5 s timeout, while a producer that ignores its timeouts waits minutes (the default sync
timeout, 120 s) or forever (a hung socket). The measured waits are in docs/reliability.md.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from burstlab.stack.local import LocalStack
from producer.app import create_app
from producer.config import ProducerConfig

pytestmark = pytest.mark.dependency_faults

SYNC_JOB = {"mode": "sync", "kind": "io", "duration_ms": 10}
ASYNC_JOB = {"mode": "async", "kind": "io", "duration_ms": 10}
TIMEOUT_S = 0.5
"""The producer's broker, baseline-connect and baseline-answer timeouts in these tests."""
QUICK_S = TIMEOUT_S + 30.0
"""A 503 comes within the configured timeout plus generous room for a loaded machine: still a
quarter of the 120 s a producer that ignored its timeouts would take, or forever."""


async def _client(aiohttp_client: Any, **config: Any) -> TestClient:
    timeouts = {
        "broker_timeout_s": TIMEOUT_S,
        "sync_connect_timeout_s": TIMEOUT_S,
        "sync_timeout_s": TIMEOUT_S,
    }
    return await aiohttp_client(create_app(ProducerConfig(**{**timeouts, **config})))


async def _timed_post(client: TestClient, job: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = await client.post("/jobs", json=job)
    body = await response.json()
    return response.status, body, time.monotonic() - started


async def test_a_sync_job_gets_503_at_once_when_the_baseline_refuses_connections(
    aiohttp_client: Any, stack: LocalStack, closed_port: int
) -> None:
    client = await _client(
        aiohttp_client, redis_url=stack.redis_url, baseline_url=f"http://127.0.0.1:{closed_port}"
    )
    status, body, elapsed = await _timed_post(client, SYNC_JOB)
    assert status == 503
    assert body["error"] == "baseline_unavailable"
    assert elapsed < QUICK_S


async def test_a_sync_job_gets_503_when_the_baseline_does_not_answer_in_time(
    aiohttp_client: Any, stack: LocalStack, hung_port: int
) -> None:
    client = await _client(
        aiohttp_client,
        redis_url=stack.redis_url,
        baseline_url=f"http://127.0.0.1:{hung_port}",
    )
    status, body, elapsed = await _timed_post(client, SYNC_JOB)
    assert status == 503
    assert body["error"] == "baseline_timeout"
    assert TIMEOUT_S <= elapsed < QUICK_S


async def test_an_async_job_gets_503_at_once_when_the_broker_refuses_connections(
    aiohttp_client: Any, stack: LocalStack, closed_port: int
) -> None:
    client = await _client(
        aiohttp_client,
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
        baseline_url=stack.baseline_url,
    )
    for _ in range(3):  # every attempt fails fast, not only the first
        status, body, elapsed = await _timed_post(client, ASYNC_JOB)
        assert status == 503
        assert body["error"] == "broker_unavailable"
        assert elapsed < QUICK_S


async def test_an_async_job_gets_503_once_the_broker_timeout_passes_when_it_hangs(
    aiohttp_client: Any, stack: LocalStack, hung_port: int
) -> None:
    client = await _client(
        aiohttp_client,
        redis_url=f"redis://127.0.0.1:{hung_port}/0",
        baseline_url=stack.baseline_url,
    )
    status, body, elapsed = await _timed_post(client, ASYNC_JOB)
    assert status == 503
    assert body["error"] == "broker_unavailable"
    assert elapsed < QUICK_S


async def test_readiness_names_each_dependency_that_is_down(
    aiohttp_client: Any, closed_port: int, hung_port: int
) -> None:
    client = await _client(
        aiohttp_client,
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
        baseline_url=f"http://127.0.0.1:{hung_port}",
    )
    started = time.monotonic()
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 503
    assert body["error"] == "not_ready"
    assert body["checks"]["broker"].startswith("unreachable")
    assert body["checks"]["baseline"] != "ok"
    assert "broker" in body["detail"] and "baseline" in body["detail"]
    assert time.monotonic() - started < QUICK_S
    # And liveness does not depend on them
    assert (await client.get("/healthz")).status == 200


async def test_job_status_reads_get_503_when_the_broker_is_down(
    aiohttp_client: Any, closed_port: int, stack: LocalStack
) -> None:
    client = await _client(
        aiohttp_client,
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
        baseline_url=stack.baseline_url,
    )
    response = await client.get("/jobs/some-id")
    assert response.status == 503
    assert (await response.json())["error"] == "broker_unavailable"
