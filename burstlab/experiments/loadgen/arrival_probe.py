"""The arrival probe: what a job costs the pipeline while a burst is still arriving.

Where the pipeline's hand-over outweighs the job (a task of well under a millisecond), the
producer taking the burst in on the same cores slows every hand-over: the consumer, its pool
process and Redis wait for a core between every step. On Celery's Django example (a 0.05 ms
task, 200 jobs at 1,000/s, one worker on 2 cores) a worker got through 340 jobs/s while the
burst arrived and 620/s once it had, where the load probe's jobs, all queued at once, ran at
the second rate. So the head of the run's own burst is sent first, as the generator sends it,
and each worker process's jobs that waited for it are timed from the previous job's finish
to their own.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from burstlab.client import ProducerClient
from burstlab.experiments.loadgen.collect import collect_async, to_rows
from burstlab.experiments.loadgen.generator import generate
from burstlab.experiments.model.handover import waiting_costs
from burstlab.scenario.schedule import Schedule

HEAD_S = 0.1
"""The arrival probe sends the burst's jobs of its first this many seconds."""
HEAD_MIN_PER_SERVER = 8
"""At least this many jobs per server (or the whole burst, if smaller)."""
HEAD_MAX = 400
"""At most this many jobs."""
ROUNDS = 3
"""Times the head is sent; each round's mean cost is one sample, so the replays' spread holds
how much one round differs from the next (on the Django example the cost while a burst
arrived was 1.3-3.0 ms a job from run to run, where one round's jobs agree within it)."""


def needs_arrival_probe(
    mode: str, schedule: Schedule, servers: int, run_s: float, loaded_overhead_s: float
) -> bool:
    """Whether a run's burst is one the arrival probe measures: a burst that outpaces the
    servers at the loaded cost, and a hand-over that outweighs the job's own run."""
    head = burst_head(schedule, servers)
    if head is None or loaded_overhead_s <= run_s:
        return False
    span = head.items[-1].offset_s
    rate = math.inf if span <= 0 else (len(head.items) - 1) / span
    return rate * (run_s + loaded_overhead_s) > servers


def burst_head(schedule: Schedule, servers: int) -> Schedule | None:
    """The burst's first jobs (:data:`HEAD_S`, at least :data:`HEAD_MIN_PER_SERVER` per
    server, at most :data:`HEAD_MAX`), offsets from the first; None without a burst."""
    burst = [item for item in schedule.items if item.in_burst]
    if not burst:
        return None
    first = burst[0].offset_s
    within = sum(item.offset_s - first <= HEAD_S for item in burst)
    count = min(len(burst), HEAD_MAX, max(within, HEAD_MIN_PER_SERVER * servers))
    items = tuple(replace(item, offset_s=item.offset_s - first) for item in burst[:count])
    return Schedule(items, items[-1].offset_s)


async def measure_arriving_cost(
    base_url: str,
    client: ProducerClient,
    mode: str,
    schedule: Schedule,
    servers: int,
    run_s: float,
    *,
    timeout_s: float,
    drain_timeout_s: float,
) -> dict[str, Any]:
    """Send the burst's head (:func:`burst_head`) in ``mode`` as the run will, :data:`ROUNDS`
    times, and return each round's mean cost of a job that waited, beyond ``run_s`` (the job's
    own run as the probes measured it), in ``arriving_overhead_samples_s``, with
    ``arriving_jobs`` sent per round."""
    head = burst_head(schedule, servers)
    if head is None:
        return {}
    means = []
    for _ in range(ROUNDS):
        sends = await generate(base_url, mode, head, timeout_s=timeout_s)
        records = {}
        if mode == "async":
            records = await collect_async(client, sends, drain_timeout_s=drain_timeout_s)
        costs = waiting_costs(to_rows(mode, servers, sends, records), run_s)
        if costs:
            means.append(math.fsum(costs) / len(costs))
    return {"arriving_overhead_samples_s": means, "arriving_jobs": len(head.items)}
