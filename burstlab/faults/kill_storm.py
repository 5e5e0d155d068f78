"""Kill storms: the worker killed, or stopped, over and over while a queue of short jobs drains.

A single kill seldom lands in the moment a message is between the broker and a worker's
bookkeeping; hundreds of kills at random moments during a drain of 10 ms jobs (where workers
fetch most often) do. Each round tops the queue up, starts the worker, lets it consume for a
random while, then either SIGKILLs its whole process group (``worker-kill-storm``) or stops it
with SIGTERM as a scale-down or a pod deletion does (``worker-stop-storm``). After the last round
a worker drains what is left and every accepted job is checked against its record: none may be
missing; runs after the first and deliveries of already finished jobs are counted as duplicates.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from dataclasses import dataclass

from burstlab.client import Producer
from burstlab.faults.probes import ledger, wait_until_final
from burstlab.faults.queue_faults import redelivery_bound_s
from burstlab.faults.report import FaultReport
from burstlab.faults.traffic import accepted_ids, burst, job
from burstlab.stack.local import LocalStack, StackConfig
from burstlab.stack.process import ManagedProcess

JOB_MS = 10.0
WORKERS = 2


@dataclass(frozen=True)
class Storm:
    """How hard to storm: rounds, how long the worker consumes in each, how full the queue is."""

    rounds: int = 100
    signum: int = signal.SIGKILL
    consume_s: tuple[float, float] = (0.2, 1.5)
    """Each round the worker consumes for a uniformly random time in this range."""
    queue_depth: int = 300
    """Before each round the queue is topped up to this many jobs (so it never runs dry)."""
    visibility_timeout_s: float = 10.0
    """Short: jobs a killed worker held come back in seconds (the jobs run 10 ms)."""
    fetch: str = "reliable"
    """``WORKER_FETCH`` of the worker under test (``kombu`` shows the loss this transport stops)."""
    broker: str = "redis"
    """``redis`` or ``rabbitmq`` (where the broker itself tracks deliveries; ``fetch`` is moot)."""
    seed: int = 1

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {self.rounds}")
        low, high = self.consume_s
        if not 0 < low <= high:
            raise ValueError(f"consume_s must be 0 < low <= high, got {self.consume_s}")


def _top_up(stack: LocalStack, depth: int) -> list[str]:
    """Submit async jobs until about ``depth`` are queued; return the accepted ids."""
    missing = depth - int(Producer(stack.producer_url).queue().get("queued", 0))
    if missing <= 0:
        return []
    answers = asyncio.run(burst(stack.producer_url, job("async", JOB_MS), missing))
    return accepted_ids(answers, 202)


def _wait_exit(worker: ManagedProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while worker.is_running() and time.monotonic() < deadline:
        time.sleep(0.02)


def _interrupt(stack: LocalStack, signum: int) -> None:
    """SIGKILL the worker's whole process group, or SIGTERM its main process only (as a
    container runtime stops a container) and wait for Celery's warm shutdown."""
    worker = stack.service("worker")
    if signum == signal.SIGKILL:
        stack.kill("worker", signal.SIGKILL, restart=False)
        _wait_exit(worker, 10.0)
    else:
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGTERM)
        _wait_exit(worker, 60.0)
    worker.stop(timeout_s=1.0)  # clears anything left of the group


def run_storm(name: str, storm: Storm) -> FaultReport:
    """Run one storm on a fresh local stack and return its ledger."""
    rng = random.Random(storm.seed)
    env = {
        "VISIBILITY_TIMEOUT_S": f"{storm.visibility_timeout_s:g}",
        "WORKER_FETCH": storm.fetch,
        "WORKER_STALL_TIMEOUT_S": "0",
    }
    config = StackConfig(
        workers=WORKERS, baseline_workers=1, extra_env=env, supervise=False, broker=storm.broker
    )
    accepted: list[str] = []
    with LocalStack(config) as stack:
        started = time.monotonic()
        for _ in range(storm.rounds):
            accepted += _top_up(stack, storm.queue_depth)
            if not stack.service("worker").is_running():
                stack.start_service("worker")
            time.sleep(rng.uniform(*storm.consume_s))
            _interrupt(stack, storm.signum)
        storm_s = time.monotonic() - started
        stack.start_service("worker")
        views = wait_until_final(
            stack.producer_url, accepted, redelivery_bound_s(storm.visibility_timeout_s) + 60
        )
        completed, lost, duplicated = ledger(views, accepted)
    how = "SIGKILL of its whole process group" if storm.signum == signal.SIGKILL else "SIGTERM"
    return FaultReport(
        name=name,
        fault=(
            f"{storm.rounds} × {how} of a {WORKERS}-process worker, each after "
            f"{storm.consume_s[0]:g}–{storm.consume_s[1]:g} s of draining {JOB_MS:g} ms jobs"
        ),
        accepted=len(accepted),
        completed=completed,
        lost=lost,
        duplicated=duplicated,
        refused=0,
        recovery_s=None,
        rss_mb=(float("nan"), float("nan"), float("nan")),
        notes={
            "kills" if storm.signum == signal.SIGKILL else "stops": storm.rounds,
            "fetch": storm.fetch if storm.broker == "redis" else "-",
            "broker": storm.broker,
            "storm s": round(storm_s, 1),
            "visibility timeout s": storm.visibility_timeout_s,
        },
    )


def worker_kill_storm(
    rounds: int = 100, fetch: str = "reliable", broker: str = "redis"
) -> FaultReport:
    """SIGKILL the whole worker ``rounds`` times at random moments of a drain of 10 ms jobs."""
    return run_storm("worker-kill-storm", Storm(rounds=rounds, fetch=fetch, broker=broker))


def worker_stop_storm(
    rounds: int = 50, fetch: str = "reliable", broker: str = "redis"
) -> FaultReport:
    """Stop the worker with SIGTERM (a scale-down) ``rounds`` times during a drain."""
    storm = Storm(rounds=rounds, signum=signal.SIGTERM, fetch=fetch, broker=broker)
    return run_storm("worker-stop-storm", storm)
