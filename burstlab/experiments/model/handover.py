"""The pipeline's per-job cost read from a run's own jobs: each worker process's jobs that waited.

A job queued before the previous one on its worker process finished was handed over the
moment that one finished: the time from that finish to its own, minus its run, is what the
pipeline cost it on top of the job, in the load it was sent under. A job that found its
process free is left out (its wait was the arrivals', not the pipeline's). Needs each job's
process (``JobRow.worker``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise

from burstlab.experiments.model.records import JobRow


def waiting_costs(rows: Sequence[JobRow], run_s: float | None = None) -> list[float]:
    """Per worker process, each job that was queued before the previous one finished: from
    that finish to its own, minus the job's run (``run_s``, or each job's own duration when
    None; at least 0). A job that found its process free is left out: its wait was the
    arrivals', not the pipeline's."""
    by_worker: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    for row in rows:
        started, enqueued, finished = row.started, row.enqueued, row.finished
        if row.worker and started is not None and enqueued is not None and finished is not None:
            run = row.duration_ms / 1000 if run_s is None else run_s
            by_worker[row.worker].append((started, enqueued, finished, run))
    costs = []
    for jobs in by_worker.values():
        jobs.sort()
        for (_, _, before, _), (_, enqueued, finished, run) in pairwise(jobs):
            if enqueued <= before:
                costs.append(max(finished - before - run, 0.0))
    return costs
