"""A burst through each mode on a monitored local stack, then the dashboard panels as a PNG.

The stack runs with its own Prometheus; the runner's phases go to the producer's experiment
context, so the bursts are shaded on the panels. Everything drawn comes from Prometheus.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from burstlab.client import ProducerClient, encode_job
from burstlab.dashboards.render import render_panels
from burstlab.stack.local import LocalStack, StackConfig

SCENARIO = "monitor-demo"


@dataclass(frozen=True)
class MonitorDemo:
    """Each mode in turn gets ``rate`` jobs/s of ``duration_ms`` io jobs for ``burst_s``."""

    workers: int = 4
    rate: float = 60.0
    burst_s: float = 30.0
    duration_ms: float = 100.0
    idle_s: float = 15.0
    """Quiet time before, between and after the bursts (the last one lets the 5 s windows close)."""


async def _burst(client: ProducerClient, mode: str, demo: MonitorDemo) -> int:
    """Send one open-loop burst; return how many jobs were not accepted."""
    url, body = f"{client.base_url}/jobs", encode_job(mode, "io", demo.duration_ms)
    headers = {"Content-Type": "application/json"}
    loop = asyncio.get_running_loop()
    begin = loop.time()

    async def one(at: float) -> bool:
        await asyncio.sleep(max(0.0, begin + at - loop.time()))
        async with client.session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status in (200, 202)

    count = round(demo.rate * demo.burst_s)
    sends = [asyncio.create_task(one(i / demo.rate)) for i in range(count)]
    await asyncio.sleep(demo.burst_s)
    await client.set_phase(scenario=SCENARIO, mode=mode, workers=demo.workers, phase="drain")
    return sum(not ok for ok in await asyncio.gather(*sends))


async def _drive(url: str, demo: MonitorDemo) -> int:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=300)
    failed = 0
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        client = ProducerClient(url, session)
        for mode in ("sync", "async"):
            await client.set_phase(scenario=SCENARIO, mode=mode, workers=demo.workers, phase="idle")
            await asyncio.sleep(demo.idle_s)
            await client.set_phase(
                scenario=SCENARIO, mode=mode, workers=demo.workers, phase="burst"
            )
            failed += await _burst(client, mode, demo)
            while (await client.queue())["backlog"]:
                await asyncio.sleep(0.5)
        await client.set_phase(scenario=SCENARIO, mode="mixed", workers=demo.workers, phase="idle")
        await asyncio.sleep(demo.idle_s + 15)
    return failed


def run_monitor_demo(out_path: Path, demo: MonitorDemo | None = None) -> tuple[Path, int]:
    """Start a monitored stack, burst each mode, render the key panels to ``out_path``.

    Returns the PNG's path and how many jobs were not accepted.
    """
    demo = demo or MonitorDemo()
    config = StackConfig(workers=demo.workers, baseline_workers=demo.workers, prometheus=True)
    with LocalStack(config) as local:
        assert local.prometheus_url is not None
        start = time.time()
        failed = asyncio.run(_drive(local.producer_url, demo))
        end = time.time()
        render_panels(local.prometheus_url, start, end, out_path)
    return out_path, failed
