"""A producer scrape is cheap under load: its queue gauges are read from Redis in the background,
never at scrape time, and the stack scrapes it on a metrics port served by a thread of its own."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from burstlab.stack.local import LocalStack
from producer.app import create_app
from producer.config import ProducerConfig
from producer.instrumentation import QUEUE_REFRESH_S

BROKER_TIMEOUT_S = 6.0
"""Long, so that a scrape that waited for it stands far from one that did not, even on a loaded
machine (the app's start waits for one bounded read, so this test takes about this long)."""


async def _scrape(client: Any) -> tuple[dict[str, float], float]:
    started = time.monotonic()
    response = await client.get("/metrics")
    text = await response.text()
    elapsed = time.monotonic() - started
    assert response.status == 200
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }
    return samples, elapsed


async def test_a_scrape_does_not_wait_for_a_hung_broker_and_shows_it_down(
    aiohttp_client: Any, stack: LocalStack, hung_port: int
) -> None:
    # Given a producer whose Redis accepts connections and never answers
    config = ProducerConfig(
        redis_url=f"redis://127.0.0.1:{hung_port}/0",
        baseline_url=stack.baseline_url,
        broker_timeout_s=BROKER_TIMEOUT_S,
    )
    client = await aiohttp_client(create_app(config))
    # When it is scraped while its background read hangs
    samples, elapsed = await _scrape(client)
    # Then the scrape answers without waiting for the broker's timeout, broker down
    assert elapsed < BROKER_TIMEOUT_S / 2
    assert samples["burstlab_broker_up"] == 0
    assert "burstlab_async_backlog_jobs" not in samples


async def test_the_backlog_a_scrape_shows_follows_the_queue_within_a_refresh(
    aiohttp_client: Any, stack: LocalStack
) -> None:
    # Given a producer on the stack's Redis
    client = await aiohttp_client(
        create_app(ProducerConfig(redis_url=stack.redis_url, baseline_url=stack.baseline_url))
    )
    before, _ = await _scrape(client)
    # When 5 async jobs of 3 s are submitted, more than the stack's workers run at once
    for _ in range(5):
        response = await client.post(
            "/jobs", json={"mode": "async", "kind": "io", "duration_ms": 3000}
        )
        assert response.status == 202
    # Then a scrape shows the 5 (queued or reserved) within a few refresh intervals
    deadline = time.monotonic() + 4 * QUEUE_REFRESH_S
    samples = before
    while samples["burstlab_async_backlog_jobs"] < before["burstlab_async_backlog_jobs"] + 5:
        assert time.monotonic() < deadline, samples
        await asyncio.sleep(QUEUE_REFRESH_S / 5)
        samples, _ = await _scrape(client)
    assert samples["burstlab_broker_up"] == 1


def test_the_stack_scrapes_the_producer_on_its_own_metrics_port_with_the_same_registry(
    stack: LocalStack,
) -> None:
    # Given the stack's producer, its metrics port apart from its API port
    metrics_url = stack.metrics_urls["producer"]
    assert not metrics_url.startswith(stack.producer_url)

    def submitted() -> float:
        with urllib.request.urlopen(metrics_url, timeout=5) as response:
            text = response.read().decode()
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "burstlab_jobs_submitted_total" and sample.labels["mode"] == "sync"
        )

    before = submitted()
    # When a sync job is submitted on the API port
    request = urllib.request.Request(
        f"{stack.producer_url}/jobs",
        data=b'{"mode": "sync", "kind": "io", "duration_ms": 1}',
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    # Then the metrics port counts it: one registry, two listeners
    assert submitted() == before + 1
