"""Faults on the async path: a worker process, the whole worker, or the broker dies mid-burst.

Each scenario starts its own local stack, sends a burst of async jobs, injects the fault while
they run, and then checks the ledger: every job the producer accepted (202) must complete at
least once. Recovery is the time from the fault until the last job it interrupted finished:
the jobs workers held, unacknowledged, at that moment, and any job that had to run again.

Each runs on either broker (``broker="redis"`` or ``"rabbitmq"``). On Redis a dead worker's
jobs come back after the visibility timeout; on RabbitMQ as soon as its connection closes. The
jobs held at the fault are read from kombu's unacked hash on Redis; RabbitMQ does not show the
messages it has delivered, so there the interrupted jobs are those that ran again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

from burstlab.client import Producer, ProducerError
from burstlab.faults.probes import (
    busy_child,
    held_job_ids,
    last_finish,
    ledger,
    rss_mib,
    wait_until_final,
)
from burstlab.faults.report import FaultReport
from burstlab.faults.traffic import (
    Answer,
    Background,
    accepted_ids,
    burst,
    get_json,
    job,
    refused,
    unanswered,
)
from burstlab.jobs.delivery import DEFAULT_VISIBILITY_TIMEOUT_S, UNACKED_RESTORE_INTERVAL_S
from burstlab.jobs.record import FAILED
from burstlab.jobs.spec import TASK_KIND
from burstlab.jobs.target import TaskTarget
from burstlab.stack.local import LocalStack, StackConfig

Inject = Callable[[LocalStack], dict[str, object]]

BURST_JOBS = 200
JOB_MS = 100.0
WORKERS = 2
REDELIVERY_MARGIN_S = 10.0
"""Time for a redelivered job to be fetched and run once it is back in the queue (what the
machine's load can stretch; the timeout and the sweep are timers)."""


def redelivery_bound_s(
    visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S,
    restore_period_s: float = UNACKED_RESTORE_INTERVAL_S,
) -> float:
    """When a job held by a dead worker has run again, at the latest: it is back in the queue
    after the visibility timeout plus at most one restore sweep, and then runs."""
    return visibility_timeout_s + 2 * restore_period_s + REDELIVERY_MARGIN_S


REDELIVERY_BOUND_S = redelivery_bound_s()


def broker_service(stack: LocalStack) -> str:
    """The name of the stack's broker process: ``rabbitmq`` or ``redis``."""
    return "rabbitmq" if stack.rabbitmq is not None else "redis"


def _async_fault(
    name: str,
    fault: str,
    inject: Inject,
    *,
    after_s: float = 1.5,
    visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S,
    broker: str = "redis",
    task: TaskTarget | None = None,
    restore_period_s: float = UNACKED_RESTORE_INTERVAL_S,
) -> FaultReport:
    env = {"VISIBILITY_TIMEOUT_S": f"{visibility_timeout_s:g}"}
    config = StackConfig(
        workers=WORKERS, baseline_workers=1, extra_env=env, broker=broker, target=task
    )
    # A user's task: each job runs the next payload, with the app's own settings
    sent = job("async", 0, TASK_KIND) if task else job("async", JOB_MS)
    with LocalStack(config) as stack:
        url = stack.producer_url
        rss_before = rss_mib(stack.producer.pid)[0]
        traffic = Background(burst(url, sent, BURST_JOBS))
        time.sleep(after_s)
        held = held_job_ids(stack.redis_url) if broker == "redis" else set()
        fault_at = time.time()
        notes = inject(stack)
        answers: list[Answer] = traffic.result()
        # After the fault, the pipeline must take and run new jobs too.
        answers += asyncio.run(burst(url, sent, 20))
        accepted = accepted_ids(answers, 202)
        bound = redelivery_bound_s(visibility_timeout_s, restore_period_s)
        views = wait_until_final(url, accepted, bound + 30)
        completed, lost, duplicated = ledger(views, accepted)
        rerun = {i for i in accepted if int(views.get(i, {}).get("attempts") or 0) > 1}
        end = last_finish(views, (held & set(accepted)) | rerun)
        rss_after, rss_peak = rss_mib(stack.producer.pid)
        restarts = [e for e in stack.restart_events if e.restarted_at >= fault_at]
        if restarts:
            notes["restarted after s"] = round(restarts[0].restarted_at - fault_at, 2)
        notes["broker"] = broker
        if broker == "redis":
            notes["jobs held at the fault"] = len(held)
        # A held job that had finished (record written) but was not yet acknowledged comes
        # back too, and is then acknowledged without running: not a rerun.
        notes["ran again"] = len(rerun)
        if broker == "redis":
            notes["visibility timeout s"] = visibility_timeout_s
            if restore_period_s != UNACKED_RESTORE_INTERVAL_S:
                notes["restore sweep every s"] = restore_period_s
        if task is not None:
            # Ended, but as failures: the task raised, or the worker it ran on was lost and the
            # app's settings (task_reject_on_worker_lost off) fail the job rather than requeue it
            notes["task"] = task.task
            notes["failed"] = sum(views.get(i, {}).get("status") == FAILED for i in accepted)
        return FaultReport(
            name=name,
            fault=fault,
            accepted=len(accepted),
            completed=completed,
            lost=lost + unanswered(answers),
            duplicated=duplicated,
            refused=refused(answers),
            recovery_s=None if end is None else max(0.0, end - fault_at),
            rss_mb=(rss_before, rss_peak, rss_after),
            notes=notes,
        )


def _kill_one_pool_process(stack: LocalStack) -> dict[str, object]:
    pid = busy_child(stack.worker.child_pids())  # one in the middle of a job
    os.kill(pid, signal.SIGKILL)
    return {"killed pid": pid}


def _kill_whole_worker(stack: LocalStack) -> dict[str, object]:
    stack.kill("worker", signal.SIGKILL)
    return {}


def _jobs(task: TaskTarget | None) -> str:
    return f"{BURST_JOBS} async jobs of " + (f"task {task.task}" if task else f"{JOB_MS:g} ms")


def worker_child_kill(broker: str = "redis", task: TaskTarget | None = None) -> FaultReport:
    """SIGKILL one Celery pool process while a burst runs (of ``task``'s jobs if given)."""
    return _async_fault(
        "worker-child-kill",
        f"SIGKILL one of {WORKERS} Celery pool processes mid-burst ({_jobs(task)})",
        _kill_one_pool_process,
        broker=broker,
        task=task,
    )


def worker_kill(
    visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S,
    broker: str = "redis",
    task: TaskTarget | None = None,
    restore_period_s: float = UNACKED_RESTORE_INTERVAL_S,
) -> FaultReport:
    """SIGKILL the whole worker (main process and pool) while a burst runs; it is restarted.

    On Redis the jobs it held come back after ``visibility_timeout_s`` (tests shorten it:
    their jobs are short), found by a sweep every ``restore_period_s`` (burstlab's transport:
    5 s; a user's app on kombu's own: its interval x throttle); on RabbitMQ when its
    connection closes, at once."""
    return _async_fault(
        "worker-kill",
        f"SIGKILL the whole Celery worker (main + {WORKERS} pool processes) mid-burst "
        f"({_jobs(task)}); the supervisor restarts it",
        _kill_whole_worker,
        visibility_timeout_s=visibility_timeout_s,
        broker=broker,
        task=task,
        restore_period_s=restore_period_s,
    )


def _broker_outage(stop: Callable[[LocalStack], None], down_s: float) -> Inject:
    def inject(stack: LocalStack) -> dict[str, object]:
        stop(stack)
        down_at = time.monotonic()
        probes = asyncio.run(_while_down(stack.producer_url))
        time.sleep(max(0.0, down_s - (time.monotonic() - down_at)))
        stack.start_service(broker_service(stack))
        up_at = time.time()
        notes: dict[str, object] = {
            "submits while down": f"{sum(a.status == 503 for a in probes[:-1])}/{len(probes) - 1} "
            "answered 503",
            "slowest 503 s": round(max(a.latency_s for a in probes[:-1]), 3),
            "readyz names broker": probes[-1].status == 503
            and "broker" in str((probes[-1].body or {}).get("detail", "")),
        }
        stack.wait_healthy("worker", timeout_s=60)
        notes["worker consuming again after s"] = round(_first_start_after(stack, up_at), 2)
        return notes

    return inject


async def _while_down(producer_url: str) -> list[Answer]:
    answers = await burst(producer_url, job("async", JOB_MS), 5, timeout_s=10)
    return [*answers, await get_json(f"{producer_url}/readyz")]


def _first_start_after(stack: LocalStack, up_at: float) -> float:
    """Seconds from the broker's return until a new job starts on a worker."""
    answers = asyncio.run(burst(stack.producer_url, job("async", 1), 1))
    job_id = answers[0].job_id
    producer = Producer(stack.producer_url, timeout_s=5)
    deadline = time.monotonic() + 120
    while job_id and time.monotonic() < deadline:
        try:
            view = producer.get_job(job_id, wait_s=5)
        except ProducerError:
            time.sleep(0.1)  # the broker may still be coming back
            continue
        started = (view.get("timings") or {}).get("started_at")
        if started:
            return float(started) - up_at
    return float("nan")


_DURABILITY = {
    "redis": "Redis (AOF on, appendfsync everysec)",
    "rabbitmq": "the RabbitMQ node (durable queue, persistent messages)",
}


def broker_restart(
    visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S, broker: str = "redis"
) -> FaultReport:
    """Stop the broker (SIGTERM) mid-burst for 3 s, then start it again on the same port."""
    return _async_fault(
        "broker-restart",
        f"stop {_DURABILITY[broker]} with SIGTERM mid-burst for 3 s, start it again on the "
        "same port",
        _broker_outage(lambda s: s.stop_service(broker_service(s)), 3.0),
        visibility_timeout_s=visibility_timeout_s,
        broker=broker,
    )


def broker_crash(
    visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S, broker: str = "redis"
) -> FaultReport:
    """SIGKILL the broker mid-burst (no chance to flush), then start it again on the same port."""

    def crash(stack: LocalStack) -> None:
        stack.kill(broker_service(stack), signal.SIGKILL, restart=False)

    return _async_fault(
        "broker-crash",
        f"SIGKILL {_DURABILITY[broker]} mid-burst, start it again 3 s later",
        _broker_outage(crash, 3.0),
        visibility_timeout_s=visibility_timeout_s,
        broker=broker,
    )
