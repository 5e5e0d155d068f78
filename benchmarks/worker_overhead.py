"""Benchmark: Celery's per-task cost, burstlab's worker beside a bare Celery app.

Three workers, each with CONCURRENCY prefork processes, late acks, prefetch 1 and JSON, on one
private Redis (a database each, so each has its own queue and unacked hash):

- ``bare``: :mod:`benchmarks.bare_celery`, no burstlab code, kombu's own Redis fetch;
- ``burstlab``: ``burstlab worker`` as shipped (reliable fetch, job records, metrics on);
- ``burstlab-kombu``: the same with ``WORKER_FETCH=kombu``, so the reliable fetch's own cost
  (claim script + BLMOVE) is the difference between the two burstlab rows.

All three are fed the same way: TASKS messages built by
:func:`burstlab.jobs.task_message.build_task_message` (the producer's own protocol-v2 envelope,
the bare app's task name for the bare worker) pushed in one ``LPUSH``, after the job records
the producer would have written. A batch is finished when its queue list and the unacked hash
are both empty (a late ack removes a message from the hash after its task ran), seen twice in a
row. Per-task overhead per process = wall x CONCURRENCY / TASKS - job time. Rounds interleave
the workers (the order rotates each round); idle workers only block on Redis.

Also printed: the CPU time (user + system, from ``/proc``) the worker's main and pool processes used
per task. On a shared machine the wall figures swing with everyone else's load; the CPU figures
barely move, and on a saturated machine wall time follows CPU time.

Run: .venv/bin/python -m benchmarks.worker_overhead [ROUNDS] [TASKS] [CONCURRENCY]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from benchmarks.bare_celery import TASK_NAME as BARE_TASK
from benchmarks.harness import burstlab, free_port, private_redis, services
from burstlab.jobs.names import QUEUE_NAME, UNACKED_KEY, job_key
from burstlab.jobs.record import accepted_fields
from burstlab.jobs.spec import JobSpec
from burstlab.jobs.task_message import build_task_message, new_id, task_kwargs
from burstlab.stack.process import descendant_pids

JOB_MS = (0.0, 10.0)
GOAL_MS = 1.0
POLL_S = 0.002
WORKERS = {"bare": 0, "burstlab": 1, "burstlab-kombu": 2}
"""Each worker's Redis database."""


TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Batch:
    """One batch on one worker: wall time, and CPU time of the worker's processes."""

    wall_s: float
    cpu_s: float


def _db_url(redis_url: str, db: int) -> str:
    return redis_url.rsplit("/", 1)[0] + f"/{db}"


def _push(client: redis.Redis, name: str, tasks: int, duration_ms: float) -> None:
    """Write the records (burstlab only) and push ``tasks`` messages in one LPUSH."""
    spec = JobSpec("io", duration_ms)
    task = BARE_TASK if name == "bare" else None
    messages = []
    records = client.pipeline(transaction=False)
    for _ in range(tasks):
        job_id = new_id()
        kwargs = task_kwargs(job_id, spec, time.time(), "")
        if task is None:
            messages.append(build_task_message(job_id, kwargs))
            now = time.time()
            fields = accepted_fields("async", spec, now, now)
            records.hset(job_key(job_id), mapping=fields)  # type: ignore[arg-type]
        else:
            messages.append(build_task_message(job_id, kwargs, task_name=task))
    records.execute()
    client.lpush(QUEUE_NAME, *messages)


def _wait_drained(client: redis.Redis, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    empty_polls = 0
    while empty_polls < 2:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not drained in {timeout_s} s")
        pipe = client.pipeline(transaction=False)
        pipe.llen(QUEUE_NAME)
        pipe.hlen(UNACKED_KEY)
        queued, unacked = pipe.execute()
        empty_polls = empty_polls + 1 if queued == 0 and unacked == 0 else 0
        time.sleep(POLL_S)


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and every process below it."""
    total = 0
    for each in [pid, *descendant_pids(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def batch(client: redis.Redis, name: str, pid: int, tasks: int, duration_ms: float) -> Batch:
    """Run ``tasks`` jobs of ``duration_ms`` pushed at once on one worker; time it."""
    _push(client, name, tasks, duration_ms)
    cpu_before = cpu_s(pid)
    started = time.monotonic()
    # The two confirming polls are not part of the batch.
    _wait_drained(client, timeout_s=120 + tasks * duration_ms / 1000)
    wall = time.monotonic() - started - POLL_S
    return Batch(wall, cpu_s(pid) - cpu_before)


def overhead_ms(wall_s: float, tasks: int, concurrency: int, duration_ms: float) -> float:
    """Per-task overhead per process: wall x processes / tasks - job time, in ms."""
    return wall_s * 1000 * concurrency / tasks - duration_ms


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} ms ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    with private_redis() as redis_url:
        urls = {name: _db_url(redis_url, db) for name, db in WORKERS.items()}
        base = {"WORKER_CONCURRENCY": str(concurrency), "WORKER_STALL_TIMEOUT_S": "0"}
        specs = [
            ("bare", [sys.executable, "-m", "benchmarks.bare_celery", urls["bare"],
                      str(concurrency), QUEUE_NAME], {}),
            ("burstlab", burstlab("worker"), {**base, "REDIS_URL": urls["burstlab"],
             "WORKER_METRICS_PORT": str(free_port()), "WORKER_FETCH": "reliable"}),
            ("burstlab-kombu", burstlab("worker"), {**base, "REDIS_URL": urls["burstlab-kombu"],
             "WORKER_METRICS_PORT": str(free_port()), "WORKER_FETCH": "kombu"}),
        ]  # fmt: skip
        clients = {name: redis.Redis.from_url(url) for name, url in urls.items()}
        with services(*specs) as processes:
            pids = {p.name: p.pid or 0 for p in processes}
            for name, client in clients.items():
                # Warm-up: every pool process started, imported and ran a few jobs.
                batch(client, name, pids[name], concurrency * 20, 0.0)
            batches: dict[tuple[str, float], list[Batch]] = {}
            for round_ in range(rounds):
                for duration_ms in JOB_MS:
                    # Rotate the order each round so no worker always follows the same one.
                    names = list(WORKERS)
                    names = names[round_ % 3 :] + names[: round_ % 3]
                    for name in names:
                        done = batch(clients[name], name, pids[name], tasks, duration_ms)
                        batches.setdefault((name, duration_ms), []).append(done)
    print(
        f"{tasks} tasks pushed at once, {concurrency} prefork processes, late acks, prefetch 1, "
        f"{rounds} interleaved rounds; median (min-max) per task"
    )
    for duration_ms in JOB_MS:
        report(batches, duration_ms, tasks, concurrency)


def report(
    batches: dict[tuple[str, float], list[Batch]], duration_ms: float, tasks: int, concurrency: int
) -> None:
    """Print one job duration's rows: overhead per process, CPU per task, differences to bare."""
    per = {
        name: [
            overhead_ms(b.wall_s, tasks, concurrency, duration_ms)
            for b in batches[(name, duration_ms)]
        ]
        for name in WORKERS
    }
    cpu = {name: [b.cpu_s * 1000 / tasks for b in batches[(name, duration_ms)]] for name in WORKERS}
    print(f"\n{duration_ms:g} ms jobs: overhead per process (wall x {concurrency} / tasks - job), "
          "worker CPU per task (main + pool processes)")  # fmt: skip
    for name in WORKERS:
        line = f"  {name:15s} overhead {_spread(per[name])}   CPU {_spread(cpu[name])}"
        if duration_ms:
            eff = statistics.median(duration_ms / (duration_ms + o) for o in per[name])
            line += f"   efficiency {eff:.2f} of N/S"
        print(line)
    for name in ("burstlab", "burstlab-kombu"):
        diffs = [a - b for a, b in zip(per[name], per["bare"], strict=True)]
        cpu_diffs = [a - b for a, b in zip(cpu[name], cpu["bare"], strict=True)]
        verdict = "met" if statistics.median(diffs) <= GOAL_MS else "MISSED"
        cpu_verdict = "met" if statistics.median(cpu_diffs) <= GOAL_MS else "MISSED"
        print(f"  {name} - bare: overhead {_spread(diffs)}   CPU {_spread(cpu_diffs)}; "
              f"goal <= {GOAL_MS:g} ms: overhead {verdict}, CPU {cpu_verdict}")  # fmt: skip
    fetch = [a - b for a, b in zip(per["burstlab"], per["burstlab-kombu"], strict=True)]
    fetch_cpu = [a - b for a, b in zip(cpu["burstlab"], cpu["burstlab-kombu"], strict=True)]
    print(f"  reliable - kombu fetch: overhead {_spread(fetch)}   CPU {_spread(fetch_cpu)}")


if __name__ == "__main__":
    main()
