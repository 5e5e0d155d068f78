"""The S probe: the unloaded service time, measured with sequential jobs before the load."""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from burstlab.client import ProducerClient
from burstlab.experiments.model.mgc import squared_cv
from burstlab.experiments.model.prediction import ReplayInputs
from burstlab.experiments.model.service import ServiceModel
from burstlab.experiments.model.stats import percentiles_ms
from burstlab.jobs.record import FAILED
from burstlab.jobs.spec import TASK_KIND
from burstlab.scenario.schedule import Schedule
from burstlab.scenario.spec import Scenario

PROBES_PER_JOB = 5
"""Sequential probe jobs per job-mix entry used to measure the unloaded service time S."""
TASK_PROBES = 40
"""Sequential probe jobs of a user's task when its payload count is not known."""
TASK_PROBES_MAX = 100
"""The most payload lines a task probe runs: every line of a file this long, else this many
spread evenly over it."""
LOAD_ROUNDS = 5
"""Rounds of the load probe; each round's mean hand-over gap is one sample of it."""
LOAD_JOBS_PER_SERVER = 4
"""Jobs per server a load-probe round sends at once: each server runs this many back to back."""

ServiceProbe = Callable[[ProducerClient, str], Awaitable[tuple[dict[str, float], float, int]]]
"""Given a client and a mode: the probe figures, the service time S and the servers to use."""


WARM_UP_JOBS_PER_SERVER = 2
"""Jobs per server sent at once before the probes and not counted: a pool process's first job
pays for what it sets up once (a connection, a script load), 10-20 ms a job when just started."""


async def warm_up(
    client: ProducerClient, mode: str, scenario: Scenario, servers: int, payload_lines: int = 0
) -> None:
    """Run ``WARM_UP_JOBS_PER_SERVER`` jobs per server at once, results unread: every pool
    process (and gunicorn worker) has run a job before a probe is timed. Without it the first
    sequential probes of replicas started a moment before measured 13-24 ms of hand-over where
    the run then saw 3.5 ms, and the load probe 25-44 ms where the run saw 5."""
    jobs = max(servers, 1) * WARM_UP_JOBS_PER_SERVER
    if is_task(scenario):
        lines = [i % payload_lines for i in range(jobs)] if payload_lines > 0 else [None] * jobs
        sends = [client.run(mode, TASK_KIND, payload_line=line) for line in lines]
    else:
        mix = [scenario.jobs[i % len(scenario.jobs)] for i in range(jobs)]
        sends = [client.run(mode, job.kind, job.duration_ms) for job in mix]
    await asyncio.gather(*sends)


async def measure_service_time(
    client: ProducerClient,
    mode: str,
    scenario: Scenario,
    payload_lines: int = 0,
    servers: int = 1,
) -> dict[str, Any]:
    """Unloaded service time S of ``mode``: sequential probes of each job-mix entry at its mean,
    after a warm-up of every one of ``servers`` (:func:`warm_up`).

    S is the mean of ``finished_at - enqueued_at``: the job's run plus the hop that hands it to
    a free worker (broker fetch or HTTP accept), the per-job cost a saturated worker also pays.
    Each probe's hop (``started_at - enqueued_at``) is kept in ``overhead_samples_s``.
    """
    await warm_up(client, mode, scenario, servers, payload_lines)
    if is_task(scenario):
        return await _measure_task(client, mode, payload_lines)
    total_weight = sum(job.weight for job in scenario.jobs)
    weighted = pure = 0.0
    overheads: list[float] = []
    answers: list[float] = []
    for job in scenario.jobs:
        hops, runs = [], []
        for _ in range(PROBES_PER_JOB):
            reply = await client.run(mode, job.kind, job.duration_ms)
            answered = time.time()
            t = reply["timings"]
            hops.append(t["finished_at"] - t["enqueued_at"])
            runs.append(t["finished_at"] - t["started_at"])
            overheads.append(max(t["started_at"] - t["enqueued_at"], 0.0))
            answers.append(max(answered - t["finished_at"], 0.0))
        weighted += job.weight * statistics.fmean(hops)
        pure += job.weight * statistics.fmean(runs)
    return {
        "service_s": weighted / total_weight,
        "run_only_s": pure / total_weight,
        "overhead_samples_s": overheads,
        **_answers(mode, answers),
    }


async def measure_loaded_cost(
    client: ProducerClient, mode: str, scenario: Scenario, servers: int, run_s: float
) -> dict[str, Any]:
    """The per-job cost of a saturated server on ``mode``'s side, measured.

    Each round sends ``LOAD_JOBS_PER_SERVER`` jobs per server at once (the scenario's mix in
    turn): every server runs its share back to back, and the time between one job's finish
    and the next one's start on a server is the pipeline's per-job overhead under load (the
    hand-over: ack, fetch, HTTP accept; on saturated cores the CPU the pipeline takes from the
    jobs). The sequential probes cannot see it: they hand each job to an idle worker on idle
    cores. See :func:`hand_over_gap` for how a round is read without knowing which server ran
    which job. ``run_s`` is the job's own run (its duration); a user's task subtracts the run
    times of the payloads each round ran instead.
    """
    jobs = [(job.kind, job.duration_ms) for job in scenario.jobs]
    count = servers * LOAD_JOBS_PER_SERVER
    costs: list[float] = []
    overheads: list[float] = []
    for _ in range(LOAD_ROUNDS):
        batch = [jobs[i % len(jobs)] for i in range(count)]
        replies = await asyncio.gather(*(client.run(mode, k, d) for k, d in batch))
        timings = [r["timings"] for r in replies if r.get("timings", {}).get("finished_at")]
        if len(timings) < count:
            continue
        starts = [t["started_at"] for t in timings]
        finishes = [t["finished_at"] for t in timings]
        runs = [f - s for s, f in zip(starts, finishes, strict=True)] if is_task(scenario) else []
        gap, cost = hand_over_gap(starts, finishes, servers, sum(runs) or run_s * count)
        costs.append(cost)
        overheads.append(gap)
    return {"loaded_cost_samples_s": costs, "loaded_overhead_samples_s": overheads}


def hand_over_gap(
    starts: Sequence[float], finishes: Sequence[float], servers: int, run_total_s: float
) -> tuple[float, float]:
    """One load-probe round read: the mean hand-over gap between a server's jobs, and the
    server-time a job cost (seconds).

    Every server's first start is among the first ``servers`` starts (the jobs were all sent at
    once), and its last finish among the last ``servers`` finishes (a server that finishes
    while jobs wait starts another), so their sums bound the servers' busy spans without
    knowing which server ran which job: the busy time minus the jobs' own run
    (``run_total_s``) is spread over the gaps, one fewer per server than its jobs. The span of
    the whole round times the servers (the estimate before this one) charges every server
    with the unluckiest one's span, and spreads it over every job rather than the gaps: high
    on two servers or more, low by a quarter on one.
    """
    count = len(starts)
    if count <= servers:
        raise ValueError(f"{count} jobs on {servers} servers leave no gap between two jobs")
    busy = sum(sorted(finishes)[-servers:]) - sum(sorted(starts)[:servers])
    return max((busy - run_total_s) / (count - servers), 0.0), busy / count


def is_task(scenario: Scenario) -> bool:
    """Whether the scenario runs a user's task (its service time is measured, not given)."""
    return all(job.kind == TASK_KIND for job in scenario.jobs)


def probe_lines(payload_lines: int) -> list[int | None]:
    """The payload lines a task probe runs, so its distribution is the file's: a short file
    round and round to :data:`TASK_PROBES` jobs, every line of a longer one, and
    :data:`TASK_PROBES_MAX` lines spread evenly over a file longer still; without a count,
    :data:`TASK_PROBES` jobs in turn."""
    if payload_lines <= 0:
        return [None] * TASK_PROBES
    if payload_lines < TASK_PROBES:
        return [i % payload_lines for i in range(TASK_PROBES)]
    count = min(payload_lines, TASK_PROBES_MAX)
    return [i * payload_lines // count for i in range(count)]


async def _measure_task(client: ProducerClient, mode: str, payload_lines: int) -> dict[str, Any]:
    """A user's task: sequential jobs over its payload file (:func:`probe_lines`), so the
    distribution is the file's, not that of the lines that happen to come first.

    Besides S (enqueue to finish, as for burstlab's jobs) it keeps the distribution of the run
    times: mean, squared coefficient of variation (``cs2``, the M/G/c input), p50, p99, and the
    share of the run spent on the CPU of the task's thread; failed probes are counted. The
    per-job times (``samples_s``, enqueue to finish, in payload order) give the autoscaling
    fluid model each job's own service time; the run times (``run_samples_s``) and the
    hand-over times (``overhead_samples_s``) the queue replay's service model.
    """
    hops, runs, cpu, overheads, answers = [], [], [], [], []
    outcomes: list[str] = []
    failed = 0
    lines = probe_lines(payload_lines)
    for line in lines:
        reply = await client.run(mode, TASK_KIND, payload_line=line)
        answered = time.time()
        t = reply["timings"]
        answers.append(max(answered - t["finished_at"], 0.0))
        hops.append(t["finished_at"] - t["enqueued_at"])
        runs.append(t["finished_at"] - t["started_at"])
        overheads.append(max(t["started_at"] - t["enqueued_at"], 0.0))
        cpu.append(float((reply.get("result") or {}).get("cpu_seconds") or 0.0))
        failed += reply.get("status") == FAILED
        outcomes.append(str(reply.get("status") or ""))
    return {
        "service_s": statistics.fmean(hops),
        "run_only_s": statistics.fmean(runs),
        "cs2": squared_cv(runs),
        "distribution": service_distribution(runs, cpu, failed),
        "samples_s": hops,
        "run_samples_s": runs,
        "overhead_samples_s": overheads,
        "lines": [line for line in lines if line is not None],
        "run_outcomes": outcomes,
        **_answers(mode, answers),
    }


def _answers(mode: str, answers: list[float]) -> dict[str, list[float]]:
    """The sync side's ``answer_samples_s``: from each probe's finish to the client having its
    HTTP reply (the way back through the producer; for a 0.05 ms task most of a sync job's
    latency). An async job's answer is its finish: none."""
    return {"answer_samples_s": answers} if mode == "sync" else {}


def service_distribution(runs: list[float], cpu: list[float], failed: int) -> dict[str, Any]:
    """The measured service-time distribution of a task, as the report shows it."""
    quantiles = percentiles_ms(runs)
    total = sum(runs)
    return {
        "count": len(runs),
        "failed": failed,
        "mean_ms": statistics.fmean(runs) * 1000,
        "cv": math.sqrt(squared_cv(runs)),
        "p50_ms": quantiles["p50"],
        "p99_ms": quantiles["p99"],
        "cpu_share": sum(cpu) / total if total > 0 else 0.0,
    }


def theory_service(
    scenario: Scenario, schedule: Schedule, workers: int, probe: dict[str, float]
) -> tuple[float, int]:
    """The S and number of servers the prediction uses.

    S is the mean duration of the jobs this run actually offers (random mixes draw them from
    the seed) plus the per-job hand-over overhead the probes measured. Jobs that are all
    CPU-bound cannot run on more servers than the machine has cores.
    """
    if is_task(scenario):
        return probe["service_s"], workers
    durations = [item.duration_ms for item in schedule.items] or [
        job.duration_ms for job in scenario.jobs
    ]
    overhead = max(probe["service_s"] - probe["run_only_s"], 0.0)
    service_s = statistics.fmean(durations) / 1000 + overhead
    servers = workers
    if all(job.kind == "cpu" for job in scenario.jobs):
        servers = min(workers, os.cpu_count() or workers)
    return service_s, servers


def own_run_s(scenario: Scenario, schedule: Schedule, probe: Mapping[str, Any]) -> float:
    """The mean run time of the run's jobs on a server of their own: their durations (a user's
    task: its unloaded run times), the part of a job's cost that is not the pipeline's."""
    if is_task(scenario):
        return statistics.fmean(probe.get("run_samples_s") or [probe["run_only_s"]])
    durations = [item.duration_ms for item in schedule.items] or [
        job.duration_ms for job in scenario.jobs
    ]
    return statistics.fmean(durations) / 1000


def replay_inputs(
    scenario: Scenario, schedule: Schedule, workers: int, probe: Mapping[str, Any]
) -> ReplayInputs:
    """The queue replay's servers and service model for a run, from its probe.

    burstlab's own jobs run for their own duration plus a per-job overhead; a user's task for a
    run time drawn from the probes' run times plus that overhead. The overhead is the load
    probe's (the pipeline's per-job cost under saturation, :func:`measure_loaded_cost`), else
    the sequential probes' hand-overs; a probe of an older result falls back to its means. With
    both, a job that finds a server free is handed over at the sequential probes' cost (a lone
    job's), one that waited at the load probe's, or at the arrival probe's while the burst
    still arrives when that ran (:mod:`~burstlab.experiments.loadgen.arrival_probe`).
    """
    _, servers = theory_service(scenario, schedule, workers, dict(probe))
    # Under load when the load probe ran; else the sequential probes' hand-overs, or their means
    # (an older result).
    loaded = probe.get("loaded_overhead_samples_s")
    sequential = probe.get("overhead_samples_s")
    overhead = loaded or sequential
    if overhead is None:
        overhead = [max(probe["service_s"] - probe["run_only_s"], 0.0)]
    idle = tuple(sequential) if loaded and sequential else ()
    runs: list[float] = []
    if is_task(scenario):
        runs = list(probe.get("run_samples_s") or [probe["run_only_s"]])
    arriving = tuple(probe.get("arriving_overhead_samples_s") or ())
    answer = tuple(probe.get("answer_samples_s") or ())
    service = ServiceModel(tuple(runs), tuple(overhead), idle, arriving, answer)
    return ReplayInputs(servers, service)


def service_probe(scenario: Scenario, workers: int, payload_lines: int = 0) -> ServiceProbe:
    """The probe a sweep runs first: the measured S, and the servers a run would use.

    A sweep sets its rates from the S the probes measured (enqueue to finish), not from the
    nominal job length: CPU-bound jobs on a shared machine run longer than they are asked to.
    """

    async def probe(client: ProducerClient, mode: str) -> tuple[dict[str, float], float, int]:
        measured = await measure_service_time(client, mode, scenario, payload_lines, workers)
        _, servers = theory_service(scenario, Schedule((), 0.0), workers, measured)
        return measured, measured["service_s"], servers

    return probe
