"""``broker-bounce``: SIGKILL the broker again and again under a steady trickle, time each return.

A stack runs a trickle of sync and async jobs (open loop, the whole time). Each round SIGKILLs
the broker (Redis or the RabbitMQ node), keeps it down for ``down_s``, starts it again on the
same port and data, and measures the time from the broker accepting connections again (Redis
answers PING, RabbitMQ takes an AMQP login) to the first async job the producer accepts (202).
That is the recovery a user sees: how long after the broker is back the service still refuses
work. Every refusal meanwhile must be a JSON 503; at the end every accepted job is checked.
"""

from __future__ import annotations

import asyncio
import math
import signal
import threading
import time
from dataclasses import dataclass

from burstlab.faults.probes import ledger, wait_until_final
from burstlab.faults.queue_faults import broker_service
from burstlab.faults.report import FaultReport
from burstlab.faults.traffic import Answer, Background, accepted_ids, job, stream
from burstlab.stack.health import amqp_ready, redis_ready
from burstlab.stack.local import LocalStack, StackConfig

ROUNDS = 10
DOWN_S = 2.0
SETTLE_S = 3.0
"""Time between a round's first accepted job and the next kill (the pipeline drains its backlog)."""
ASYNC_RATE = 20.0
SYNC_RATE = 5.0
JOB_MS = 20.0
WORKERS = 2
PROBE_INTERVAL_S = 0.02
RECOVERY_BOUND_S = 3.0
"""The goal: the first job accepted at most this long after the broker accepts connections."""


@dataclass(frozen=True)
class Round:
    """One kill and return of the broker."""

    killed_at: float
    up_at: float
    """When the broker accepted connections again (epoch seconds)."""
    first_accept_s: float
    """From ``up_at`` to the first 202 answered after it (NaN if none came)."""
    first_start_s: float
    """From ``up_at`` to the first job a worker started after it: the workers consuming again."""


def _accepting(stack: LocalStack) -> bool:
    if stack.rabbitmq is not None:
        return amqp_ready(stack.broker_url)
    return redis_ready(stack.redis_url)


def _first_after(times: list[float], up_at: float) -> float:
    after = [t for t in times if t >= up_at]
    return min(after) - up_at if after else math.nan


class _Trickle:
    """The sync and async streams, sent in the background for ``duration_s``."""

    def __init__(self, producer_url: str, duration_s: float) -> None:
        self._stop = threading.Event()

        async def both() -> tuple[list[Answer], list[Answer]]:
            return await asyncio.gather(
                stream(producer_url, job("async", JOB_MS), ASYNC_RATE, duration_s, 30, self._stop),
                stream(producer_url, job("sync", JOB_MS), SYNC_RATE, duration_s, 30, self._stop),
            )

        self._traffic = Background(both())

    def stop(self) -> tuple[list[Answer], list[Answer]]:
        """Stop sending; return every answer (async, sync) once the last one came."""
        self._stop.set()
        async_answers, sync_answers = self._traffic.result()
        return list(async_answers), list(sync_answers)


def _bounce(stack: LocalStack, down_s: float) -> tuple[float, float]:
    """SIGKILL the broker, keep it down ``down_s``, start it; return (killed at, up at)."""
    name = broker_service(stack)
    process = stack.service(name)
    killed_at = time.time()
    stack.kill(name, signal.SIGKILL, restart=False)
    while process.is_running():
        time.sleep(0.01)
    time.sleep(max(0.0, killed_at + down_s - time.time()))
    stack.start_service(name, wait=False)
    deadline = time.monotonic() + 120
    while not _accepting(stack) and time.monotonic() < deadline:
        time.sleep(PROBE_INTERVAL_S)
    return killed_at, time.time()


def broker_bounce(
    rounds: int = ROUNDS, broker: str = "redis", down_s: float = DOWN_S
) -> FaultReport:
    """SIGKILL the broker ``rounds`` times during a trickle of sync and async jobs."""
    config = StackConfig(workers=WORKERS, baseline_workers=1, broker=broker)
    with LocalStack(config) as stack:
        # An upper bound on the rounds' time (a RabbitMQ node takes seconds to boot); the
        # trickle is stopped when the last round has settled.
        trickle = _Trickle(stack.producer_url, 60.0 + rounds * (down_s + SETTLE_S + 60.0))
        time.sleep(3.0)  # the trickle is flowing before the first kill
        bounces: list[tuple[float, float]] = []
        for _ in range(rounds):
            bounces.append(_bounce(stack, down_s))
            stack.wait_healthy("worker", timeout_s=120)
            time.sleep(SETTLE_S)
        async_answers, sync_answers = trickle.stop()
        accepted = accepted_ids(async_answers, 202)
        views = wait_until_final(stack.producer_url, accepted, 120)
        completed, lost, duplicated = ledger(views, accepted)
        # The broker's own restarts are the scenario's; any other service's are not.
        crashes = [e for e in stack.restart_events if e.name != broker_service(stack)]
    accepts = [a.sent_at + a.latency_s for a in async_answers if a.status == 202]
    starts = [float(t) for v in views.values() if (t := (v.get("timings") or {}).get("started_at"))]
    measured = [
        Round(killed, up, _first_after(accepts, up), _first_after(starts, up))
        for killed, up in bounces
    ]
    report = _report(broker, rounds, down_s, measured, async_answers, sync_answers,
                     (len(accepted), completed, lost, duplicated))  # fmt: skip
    report.notes["services restarted"] = (
        ", ".join(f"{e.name} ({e.reason})" for e in crashes) if crashes else "none"
    )
    return report


def _report(
    broker: str,
    rounds: int,
    down_s: float,
    measured: list[Round],
    async_answers: list[Answer],
    sync_answers: list[Answer],
    counts: tuple[int, int, int, int],
) -> FaultReport:
    accepted, completed, lost, duplicated = counts
    answers = [*async_answers, *sync_answers]
    refusals = [a for a in answers if a.status not in (200, 202)]
    json_503 = sum(1 for a in refusals if a.status == 503 and _is_api_error(a.body))
    sync_done = sum(1 for a in sync_answers if a.status == 200)
    recoveries = [r.first_accept_s for r in measured]
    worst = max(recoveries) if recoveries else math.nan
    consuming = [r.first_start_s for r in measured]
    notes: dict[str, object] = {
        "broker": broker,
        "rounds": rounds,
        "down s": down_s,
        "first accept after up s (per round)": " ".join(f"{s:.2f}" for s in recoveries),
        "first accept after up s (max)": round(worst, 2),
        f"rounds within {RECOVERY_BOUND_S:g} s": sum(s <= RECOVERY_BOUND_S for s in recoveries),
        "workers consuming again after up s (per round)": " ".join(f"{s:.2f}" for s in consuming),
        "refusals that were a JSON 503": f"{json_503}/{len(refusals)}",
        "sync jobs answered 200": f"{sync_done}/{len(sync_answers)}",
    }
    return FaultReport(
        name="broker-bounce",
        fault=f"SIGKILL the broker ({broker}) {rounds} times during a trickle of "
        f"{ASYNC_RATE:g} async + {SYNC_RATE:g} sync jobs/s, {down_s:g} s down each time",
        accepted=accepted + sync_done,
        completed=completed + sync_done,
        lost=lost + (len(refusals) - json_503),
        duplicated=duplicated,
        refused=json_503,
        recovery_s=worst,
        notes=notes,
    )


def _is_api_error(body: dict[str, object] | None) -> bool:
    """Whether ``body`` is the producer's JSON error: a code and a human message."""
    return bool(body and body.get("error") and body.get("detail"))
