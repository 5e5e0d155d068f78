"""One schedule sent open loop and collected: what a sweep step and a durations burst each do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from burstlab.client import ProducerClient
from burstlab.experiments.loadgen.collect import collect_async, to_rows
from burstlab.experiments.loadgen.generator import Progress, generate
from burstlab.experiments.loadgen.progress import ProgressDisplay
from burstlab.experiments.model.records import JobRow
from burstlab.scenario.schedule import Schedule
from burstlab.scenario.spec import Scenario


async def send_schedule(
    client: ProducerClient,
    base_url: str,
    mode: str,
    workers: int,
    scenario: Scenario,
    schedule: Schedule,
    display: ProgressDisplay,
    on_start: Callable[[float], None] | None = None,
) -> tuple[list[JobRow], float]:
    """Send ``schedule`` open loop under the live display, collect its async jobs, and return
    its rows and its start (epoch s); ``on_start`` is told the start as sending begins."""
    progress = Progress()
    started: list[float] = []

    def start(epoch_s: float) -> None:
        started.append(epoch_s)
        if on_start is not None:
            on_start(epoch_s)

    async with display.run(client, mode, workers, progress):
        sends = await generate(
            base_url,
            mode,
            schedule,
            timeout_s=scenario.timeout_s,
            progress=progress,
            on_start=start,
        )
        records: dict[str, dict[str, Any]] = {}
        if mode == "async":
            records = await collect_async(client, sends, drain_timeout_s=scenario.drain_timeout_s)
    return to_rows(mode, workers, sends, records), started[0]
