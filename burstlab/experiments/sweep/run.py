"""Run one mode x workers of a sweep: probe S, then one open-loop step per rho (or burst size).

Each step is its own schedule, sent open loop and (async) collected before the next step
starts, so a step's backlog does not spill into the next one; the schedules depend only on
the seed and the step, so both modes see the same arrivals.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
import time
from typing import Any

from burstlab.client import ProducerClient
from burstlab.experiments.loadgen.generator import client_session
from burstlab.experiments.loadgen.phases import PhaseAnnouncer
from burstlab.experiments.loadgen.probe import (
    ServiceProbe,
    is_task,
    measure_loaded_cost,
    own_run_s,
    replay_inputs,
)
from burstlab.experiments.loadgen.progress import ProgressDisplay
from burstlab.experiments.loadgen.send import send_schedule
from burstlab.experiments.model.handover import waiting_costs
from burstlab.experiments.model.prediction import ReplayInputs
from burstlab.experiments.model.records import JobRow
from burstlab.experiments.model.stats import summarize_run
from burstlab.experiments.sweep.capacity import run_capacity
from burstlab.experiments.sweep.steps import StepWindow, summarize_burst_step, summarize_step
from burstlab.jobs.experiment_context import MEASURED_PHASE, StepContext
from burstlab.scenario.arrivals import BurstArrival, PoissonArrival
from burstlab.scenario.schedule import Schedule, build_schedule
from burstlab.scenario.spec import Scenario, ScenarioError, check_sweep
from burstlab.scenario.sweep import (
    BurstSweepArrival,
    SweepArrival,
    parse_rho_text,
    step_length_s,
)

PAUSE_BETWEEN_STEPS_S = 0.3
WAITED_MIN = 30
"""Jobs that waited for their worker process the steps before a step must have timed before
it is replayed with their cost instead of the load probe's."""
WARMUP_PHASE = "warmup"
"""The phase announced while a step's warm-up (left out of its statistics) is sent; the
measured part is ``MEASURED_PHASE``, then ``drain`` once its window has ended."""


def is_sweep(scenario: Scenario) -> bool:
    """Whether the scenario is a rho sweep or a burst-size sweep."""
    return isinstance(scenario.arrival, SweepArrival | BurstSweepArrival)


def step_schedule(
    scenario: Scenario, arrival: PoissonArrival | BurstArrival, seed: int
) -> Schedule:
    """The schedule of one step: the scenario's job mix under ``arrival``."""
    return build_schedule(dataclasses.replace(scenario, arrival=arrival), seed)


def step_seed(seed: int, index: int) -> int:
    """A seed per step, the same for every mode and worker count."""
    return seed * 1_000 + index


def _announce_step(
    phases: PhaseAnnouncer, step: StepContext, warmup_s: float, length_s: float, start: float
) -> None:
    """Once a step's sending starts: its measured part after the warm-up, its drain after it."""
    phases.at(start + warmup_s, MEASURED_PHASE, step)
    phases.at(start + length_s, "drain", step)


async def run_sweep_mode(
    base_url: str,
    mode: str,
    workers: int,
    scenario: Scenario,
    seed: int,
    display: ProgressDisplay,
    probe: ServiceProbe,
) -> tuple[list[JobRow], dict[str, Any]]:
    """Probe S, run every step, and summarize the run with its ``steps`` and ``capacity``."""
    arrival = scenario.arrival
    assert isinstance(arrival, SweepArrival | BurstSweepArrival)
    rows: list[JobRow] = []
    steps: list[dict[str, Any]] = []
    slo_ms = scenario.thresholds.slo_p99_ms
    slo_s = slo_ms / 1000 if slo_ms else None
    began = time.time()
    async with client_session() as session:
        client = ProducerClient(base_url, session)
        phases = PhaseAnnouncer(client, scenario.name, mode, workers)
        await phases.set("probe")
        measured, service_s, servers = await probe(client, mode)
        # The load probe too: near capacity nearly every job waits and is handed over at a
        # saturated pipeline's cost (5 ms a 50 ms job on 1 worker, against 2 ms for a lone one);
        # replayed with the lone one's, steps at rho 0.9-1.1 ran 10-130 % over the replay.
        no_schedule = Schedule((), 0.0)
        run_s = own_run_s(scenario, no_schedule, measured)
        measured = {
            **measured,
            **await measure_loaded_cost(client, mode, scenario, servers, run_s),
        }
        replay = replay_inputs(scenario, no_schedule, workers, measured)
        # A task's jobs are timed against its probes' mean run, burstlab's against their own.
        waited_run_s = run_s if is_task(scenario) else None
        waited: list[float] = []
        try:
            if isinstance(arrival, SweepArrival):
                for index, rho in enumerate(arrival.rho):
                    rate = rho * servers / service_s
                    length = arrival.step_s or step_length_s(rho, service_s, servers)
                    schedule = step_schedule(
                        scenario, PoissonArrival(rate, length), step_seed(seed, index)
                    )
                    warmup = length * arrival.warmup_fraction
                    step = StepContext(rho, rate, slo_s)
                    await phases.set(WARMUP_PHASE, step)
                    announce = functools.partial(_announce_step, phases, step, warmup, length)
                    step_rows, start = await send_schedule(
                        client, base_url, mode, workers, scenario, schedule, display, announce
                    )
                    await phases.settle()
                    window = StepWindow(start, length, warmup)
                    step_replay = with_waited(replay, waited, workers)
                    steps.append(
                        summarize_step(
                            step_rows,
                            window,
                            index=index,
                            rho=rho,
                            planned_rate=rate,
                            servers=servers,
                            service_s=service_s,
                            probed_run_ms=measured["run_only_s"] * 1000,
                            replay=step_replay,
                        )
                    )
                    steps[-1]["replay_overhead"] = _overhead_source(replay, step_replay)
                    waited += waiting_costs(step_rows, waited_run_s)
                    rows.extend(step_rows)
                    await asyncio.sleep(PAUSE_BETWEEN_STEPS_S)
            else:
                nominal_s = scenario.mean_duration_ms / 1000
                for index, multiple in enumerate(arrival.multiples):
                    # B from the nominal job length, so both modes get the same bursts.
                    burst = max(1, round(multiple * servers / nominal_s))
                    burst_arrival = BurstArrival(
                        burst, 0.0, arrival.window_s, window_s=arrival.window_s
                    )
                    schedule = step_schedule(scenario, burst_arrival, step_seed(seed, index))
                    await phases.set("burst")
                    step_rows, _ = await send_schedule(
                        client, base_url, mode, workers, scenario, schedule, display
                    )
                    steps.append(
                        summarize_burst_step(
                            step_rows,
                            index=index,
                            multiple=multiple,
                            burst=burst,
                            servers=servers,
                            service_s=service_s,
                        )
                    )
                    rows.extend(step_rows)
                    await asyncio.sleep(PAUSE_BETWEEN_STEPS_S)
        finally:
            await phases.clear()
    summary = summarize_run(rows, mode, workers, None)
    measured.update({"theory_service_s": service_s, "theory_servers": servers})
    summary["probe"] = measured
    summary["sweep"] = "rho" if isinstance(arrival, SweepArrival) else "burst"
    summary["sweep_elapsed_s"] = time.time() - began
    summary["steps"] = steps
    # The sweep's own lag rule (per step, against S) replaces the run-wide one.
    summary["generator_fell_behind"] = any(s["generator_fell_behind"] for s in steps)
    if isinstance(arrival, SweepArrival):
        summary["capacity"] = run_capacity(steps, scenario.thresholds.slo_p99_ms)
    summary["deviating_steps"] = [
        {"rho": s["rho"], "reason": s["deviation_reason"]}
        for s in steps
        if s.get("deviation_reason")
    ]
    return rows, summary


def with_waited(replay: ReplayInputs, waited: list[float], workers: int) -> ReplayInputs:
    """The replay inputs of a step: the per-job overhead of a job that waited is the one the
    steps before it measured (each worker process's jobs that waited, timed from the previous
    finish to their own) once they have :data:`WAITED_MIN` of them, else the load probe's.

    The load probe queues every job at once; a step's Poisson stream queues a few at a time,
    and near capacity its wait is many times as sensitive to that cost as the cost itself.
    Not where the replay has fewer servers than worker processes (``cpu`` jobs on fewer
    cores): a process's jobs then share a core with another's."""
    if len(waited) < WAITED_MIN or replay.servers != workers:
        return replay
    service = dataclasses.replace(replay.service, overhead_s=tuple(waited))
    return dataclasses.replace(replay, service=service)


def _overhead_source(replay: ReplayInputs, used: ReplayInputs) -> dict[str, Any]:
    """What a step's replay (``used``, from the probe's ``replay``) handed a waiting job over
    at, for summary.json."""
    samples = used.service.overhead_s
    return {
        "source": "earlier steps" if used is not replay else "load probe",
        "samples": len(samples),
        "mean_ms": math.fsum(samples) / len(samples) * 1000 if samples else None,
    }


def override_sweep(scenario: Scenario, rho: str | None, step_s: float | None) -> Scenario:
    """The scenario with ``--rho`` and ``--step-s`` applied; ScenarioError names the option."""
    if rho is None and step_s is None:
        return scenario
    arrival = scenario.arrival
    if not isinstance(arrival, SweepArrival):
        option = "--rho" if rho is not None else "--step-s"
        raise ScenarioError(f'{option}: only for scenarios with [arrival] pattern = "sweep"')
    if rho is not None:
        arrival = dataclasses.replace(arrival, rho=parse_rho_text(rho, "--rho"))
    if step_s is not None:
        if not (step_s > 0 and math.isfinite(step_s)):
            raise ScenarioError(f"--step-s: must be a number > 0, got {step_s:g}")
        arrival = dataclasses.replace(arrival, step_s=step_s)
    changed = dataclasses.replace(scenario, arrival=arrival)
    check_sweep(changed, field="--step-s")
    return changed
