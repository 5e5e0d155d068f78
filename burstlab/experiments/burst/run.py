"""The burst run of one mode: probe S, send the schedule open loop, collect, summarize.

Every run kind without a sweep of its own (burst, steady, ramp, cpu-burst, ...) runs this per
(workers, mode); the summary sits beside the queue replay's predictions (planned and replayed,
with their bands) and the closed forms for N workers and S as a cross-check.
"""

from __future__ import annotations

from statistics import fmean
from typing import Any

from burstlab.client import ProducerClient
from burstlab.experiments.loadgen.arrival_probe import measure_arriving_cost, needs_arrival_probe
from burstlab.experiments.loadgen.collect import collect_async, to_rows
from burstlab.experiments.loadgen.generator import Progress, client_session, generate
from burstlab.experiments.loadgen.phases import PhaseAnnouncer
from burstlab.experiments.loadgen.probe import (
    measure_loaded_cost,
    measure_service_time,
    own_run_s,
    replay_inputs,
    theory_service,
)
from burstlab.experiments.loadgen.progress import ProgressDisplay
from burstlab.experiments.model.records import JobRow
from burstlab.experiments.model.run import RunPlan
from burstlab.experiments.model.stats import summarize_run
from burstlab.experiments.model.theory import theory_inputs
from burstlab.jobs.record import extra_deliveries
from burstlab.scenario.schedule import build_schedule


async def run_mode(
    base_url: str,
    mode: str,
    workers: int,
    plan: RunPlan,
    display: ProgressDisplay,
) -> tuple[list[JobRow], dict[str, Any]]:
    """One run: probe S, send the schedule open loop, collect, summarize."""
    scenario = plan.scenario
    schedule = build_schedule(scenario, plan.seed)
    if plan.shard is not None:
        schedule = plan.shard.select(schedule)
    async with client_session() as session:
        client = ProducerClient(base_url, session)
        phases = PhaseAnnouncer(client, scenario.name, mode, workers)
        await phases.set("probe")
        lines = plan.task.payloads if plan.task else 0
        probe = await measure_service_time(client, mode, scenario, lines, workers)
        _, servers = theory_service(scenario, schedule, workers, probe)
        run_s = own_run_s(scenario, schedule, probe)
        probe.update(await measure_loaded_cost(client, mode, scenario, servers, run_s))
        loaded = probe["loaded_overhead_samples_s"]
        if loaded and needs_arrival_probe(mode, schedule, servers, run_s, fmean(loaded)):
            arriving = await measure_arriving_cost(
                base_url,
                client,
                mode,
                schedule,
                servers,
                run_s,
                timeout_s=scenario.timeout_s,
                drain_timeout_s=scenario.drain_timeout_s,
            )
            probe.update(arriving)
        progress = Progress()

        def on_start(start_epoch: float) -> None:
            phases.at(start_epoch, "load")
            if schedule.burst_window is not None:
                begin, end = schedule.burst_window
                phases.at(start_epoch + begin, "burst")
                phases.at(start_epoch + max(end, begin + 0.05), "drain")

        try:
            async with display.run(client, mode, workers, progress):
                sends = await generate(
                    base_url,
                    mode,
                    schedule,
                    timeout_s=scenario.timeout_s,
                    progress=progress,
                    on_start=on_start,
                    start_at=plan.start_at,
                )
                await phases.set("drain")
                records: dict[str, dict[str, Any]] = {}
                if mode == "async":
                    records = await collect_async(
                        client, sends, drain_timeout_s=scenario.drain_timeout_s
                    )
        finally:
            await phases.clear()
    rows = to_rows(mode, workers, sends, records)
    service_s, servers = theory_service(scenario, schedule, workers, probe)
    probe.update({"theory_service_s": service_s, "theory_servers": servers})
    inputs = theory_inputs(scenario, servers, service_s, probe.get("cs2"))
    replay = replay_inputs(scenario, schedule, workers, probe)
    summary = summarize_run(rows, mode, workers, inputs, replay)
    if mode == "async":  # a sync job is run once, by its request
        summary["duplicated"] = sum(extra_deliveries(record) for record in records.values())
    summary["probe"] = probe
    if schedule.burst_window is not None:
        summary["burst_window_s"] = list(schedule.burst_window)
    return rows, summary
