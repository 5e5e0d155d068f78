"""Run a duration sweep on one running stack: the same burst at each job duration, both modes.

Sync and async are interleaved burst by burst (which goes first alternates), so a change in
the machine's load meets both alike. Before the measured bursts each mode drains one no-op
burst that is not counted (first tasks in fresh worker processes are slower); then every
repeat sends one burst per duration between two no-op bursts (the calibration: each mode's
per-job overhead). Each burst is sent at once and drained (async: collected) before the next.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from burstlab.client import ProducerClient
from burstlab.experiments.durations.steps import BurstResult, summarize_duration_mode
from burstlab.experiments.loadgen.generator import client_session
from burstlab.experiments.loadgen.phases import PhaseAnnouncer
from burstlab.experiments.loadgen.progress import ProgressDisplay
from burstlab.experiments.loadgen.send import send_schedule
from burstlab.experiments.model.records import JobRow
from burstlab.experiments.model.stats import summarize_run
from burstlab.scenario.schedule import PlannedJob, Schedule
from burstlab.scenario.spec import Scenario
from burstlab.scenario.sweep import DurationSweepArrival

PAUSE_BETWEEN_BURSTS_S = 0.3
NOOP_MS = 0.0
"""The calibration burst's job duration: nothing but the per-job overhead."""


def is_duration_sweep(scenario: Scenario) -> bool:
    """Whether the scenario sweeps job durations."""
    return isinstance(scenario.arrival, DurationSweepArrival)


def servers_for(kind: str, workers: int, cores: int | None = None) -> int:
    """Jobs that run at once: the workers, or for CPU-bound jobs at most the machine's cores."""
    if kind == "cpu":
        return min(workers, cores or os.cpu_count() or workers)
    return workers


def burst_schedule(kind: str, duration_ms: float, size: int) -> Schedule:
    """``size`` jobs of ``duration_ms``, all meant to be sent at offset 0."""
    items = tuple(PlannedJob(0.0, kind, duration_ms, in_burst=True) for _ in range(size))
    return Schedule(items, 0.0, (0.0, 0.0))


def burst_order(
    durations_ms: tuple[float, ...], modes: tuple[str, ...], repeats: int
) -> list[tuple[int, float, str]]:
    """(repeat, duration, mode) in sending order: per repeat a no-op calibration burst, each
    duration, and a no-op burst again; every mode once per burst, the first mode alternating."""
    order = []
    turn = 0
    for repeat in range(repeats):
        for duration in (NOOP_MS, *durations_ms, NOOP_MS):
            shift = turn % len(modes)
            order += [(repeat, duration, mode) for mode in (*modes[shift:], *modes[:shift])]
            turn += 1
    return order


async def run_duration_sweep(
    base_url: str,
    modes: tuple[str, ...],
    workers: int,
    scenario: Scenario,
    display: ProgressDisplay,
) -> list[tuple[list[JobRow], dict[str, Any]]]:
    """Every burst of the sweep on one stack; per mode its rows and its run summary."""
    arrival = scenario.arrival
    assert isinstance(arrival, DurationSweepArrival)
    kind = scenario.jobs[0].kind
    servers = servers_for(kind, workers)
    bursts: dict[str, list[BurstResult]] = {mode: [] for mode in modes}
    began = time.time()
    async with client_session() as session:
        client = ProducerClient(base_url, session)
        phases = {mode: PhaseAnnouncer(client, scenario.name, mode, workers) for mode in modes}
        send = burst_order(arrival.durations_ms, modes, arrival.repeats)
        try:
            for mode in modes:
                await phases[mode].set("probe")
                noop = burst_schedule(kind, NOOP_MS, arrival.size)
                await send_schedule(client, base_url, mode, workers, scenario, noop, display)
                await asyncio.sleep(PAUSE_BETWEEN_BURSTS_S)
            for repeat, duration, mode in send:
                await phases[mode].set("probe" if duration == NOOP_MS else "burst")
                schedule = burst_schedule(kind, duration, arrival.size)
                rows, _ = await send_schedule(
                    client, base_url, mode, workers, scenario, schedule, display
                )
                bursts[mode].append(BurstResult(duration, repeat, tuple(rows)))
                await asyncio.sleep(PAUSE_BETWEEN_BURSTS_S)
        finally:
            for announcer in phases.values():
                await announcer.clear()
    elapsed = time.time() - began
    results = []
    for mode in modes:
        rows = [r for b in bursts[mode] for r in b.rows]
        summary = summarize_run(rows, mode, workers, None)
        summary.update(summarize_duration_mode(bursts[mode], burst=arrival.size, servers=servers))
        summary["sweep_elapsed_s"] = elapsed
        summary["generator_fell_behind"] = any(s["generator_fell_behind"] for s in summary["steps"])
        results.append((rows, summary))
    return results
