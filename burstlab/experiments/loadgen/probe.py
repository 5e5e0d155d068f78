"""The S probe: the unloaded service time, measured with sequential jobs before the load."""

from __future__ import annotations

import os
import statistics
from collections.abc import Awaitable, Callable

from burstlab.client import ProducerClient
from burstlab.scenario.schedule import Schedule
from burstlab.scenario.spec import Scenario

PROBES_PER_JOB = 5
"""Sequential probe jobs per job-mix entry used to measure the unloaded service time S."""

ServiceProbe = Callable[[ProducerClient, str], Awaitable[tuple[dict[str, float], float, int]]]
"""Given a client and a mode: the probe figures, the service time S and the servers to use."""


async def measure_service_time(
    client: ProducerClient, mode: str, scenario: Scenario
) -> dict[str, float]:
    """Unloaded service time S of ``mode``: sequential probes of each job-mix entry at its mean.

    S is the mean of ``finished_at - enqueued_at``: the job's run plus the hop that hands it to
    a free worker (broker fetch or HTTP accept), the per-job cost a saturated worker also pays.
    """
    total_weight = sum(job.weight for job in scenario.jobs)
    weighted = pure = 0.0
    for job in scenario.jobs:
        hops, runs = [], []
        for _ in range(PROBES_PER_JOB):
            reply = await client.run(mode, job.kind, job.duration_ms)
            t = reply["timings"]
            hops.append(t["finished_at"] - t["enqueued_at"])
            runs.append(t["finished_at"] - t["started_at"])
        weighted += job.weight * statistics.fmean(hops)
        pure += job.weight * statistics.fmean(runs)
    return {"service_s": weighted / total_weight, "run_only_s": pure / total_weight}


def theory_service(
    scenario: Scenario, schedule: Schedule, workers: int, probe: dict[str, float]
) -> tuple[float, int]:
    """The S and number of servers the prediction uses.

    S is the mean duration of the jobs this run actually offers (random mixes draw them from
    the seed) plus the per-job hand-over overhead the probes measured. Jobs that are all
    CPU-bound cannot run on more servers than the machine has cores.
    """
    durations = [item.duration_ms for item in schedule.items] or [
        job.duration_ms for job in scenario.jobs
    ]
    overhead = max(probe["service_s"] - probe["run_only_s"], 0.0)
    service_s = statistics.fmean(durations) / 1000 + overhead
    servers = workers
    if all(job.kind == "cpu" for job in scenario.jobs):
        servers = min(workers, os.cpu_count() or workers)
    return service_s, servers


def service_probe(scenario: Scenario, workers: int) -> ServiceProbe:
    """The probe a sweep runs first: the measured S, and the servers a run would use.

    A sweep sets its rates from the S the probes measured (enqueue to finish), not from the
    nominal job length: CPU-bound jobs on a shared machine run longer than they are asked to.
    """

    async def probe(client: ProducerClient, mode: str) -> tuple[dict[str, float], float, int]:
        measured = await measure_service_time(client, mode, scenario)
        _, servers = theory_service(scenario, Schedule((), 0.0), workers, measured)
        return measured, measured["service_s"], servers

    return probe
