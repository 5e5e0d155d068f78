"""After a run: collect every async job's timings, and turn sends into :class:`JobRow` rows.

Nothing is polled while the load runs. Afterwards the collector asks for all unfinished jobs in
batches (``POST /jobs/lookup``) and, between batches, long-polls the oldest unfinished job
(``GET /jobs/ID?wait=``), so it wakes as the queue drains instead of polling in a loop. A job
that has not finished when the drain timeout ends counts as lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from burstlab.client import ProducerClient, ProducerError
from burstlab.experiments.loadgen.generator import Sent
from burstlab.experiments.model.records import JobRow
from burstlab.jobs.record import FINAL_STATUSES

_LONG_POLL_S = 5.0


async def collect_async(
    client: ProducerClient,
    sends: Iterable[Sent],
    *,
    drain_timeout_s: float,
) -> dict[str, dict[str, Any]]:
    """Wait (up to ``drain_timeout_s``) for every accepted async job; return each job's record.

    Jobs still unfinished at the deadline are returned with their last known record (or not
    at all if it could not be read); the caller counts them as lost.
    """
    ids = [s.body["job_id"] for s in sends if s.status == 202 and s.body and "job_id" in s.body]
    records: dict[str, dict[str, Any]] = {}
    pending = list(ids)
    deadline = time.monotonic() + drain_timeout_s
    while pending:
        try:
            records.update(await client.lookup(pending))
        except ProducerError:
            await asyncio.sleep(0.5)
        pending = [i for i in pending if records.get(i, {}).get("status") not in FINAL_STATUSES]
        remaining = deadline - time.monotonic()
        if not pending or remaining <= 0:
            break
        wait = min(_LONG_POLL_S, remaining)
        try:
            await client.get_job(pending[0], wait_s=wait)
        except ProducerError:
            await asyncio.sleep(0.5)
    return records


def _timing(body: dict[str, Any] | None, name: str) -> float | None:
    if not body:
        return None
    value = body.get("timings", {}).get(name)
    return float(value) if value is not None else None


def to_rows(
    mode: str, workers: int, sends: Iterable[Sent], records: dict[str, dict[str, Any]]
) -> list[JobRow]:
    """One :class:`JobRow` per send, with its outcome decided."""
    rows = []
    for sent in sends:
        body = sent.body
        job_id = str(body.get("job_id", "")) if body else ""
        record: dict[str, Any] | None = body
        if sent.error is not None:
            outcome = "error"
        elif mode == "sync":
            # A 200 is a job that ran: succeeded, or failed when the user's task raised.
            ran = body.get("status") if body else None
            outcome = (
                ("failed" if ran == "failed" else "succeeded") if sent.status == 200 else "rejected"
            )
        elif sent.status != 202:
            outcome = "rejected"
        else:
            record = records.get(job_id)
            status = record.get("status") if record else None
            outcome = status if status in FINAL_STATUSES else "lost"
        rows.append(
            JobRow(
                mode=mode,
                workers=workers,
                job_id=job_id,
                kind=sent.planned.kind,
                duration_ms=sent.planned.duration_ms,
                intended=sent.intended,
                sent=sent.sent,
                accepted=sent.answered,
                submitted=_timing(record, "submitted_at"),
                enqueued=_timing(record, "enqueued_at"),
                started=_timing(record, "started_at"),
                finished=_timing(record, "finished_at"),
                http_status=sent.status,
                outcome=str(outcome),
                in_burst=sent.planned.in_burst,
                worker=str((record or {}).get("worker") or ""),
                **_task_fields(record),
            )
        )
    return rows


def _task_fields(record: dict[str, Any] | None) -> dict[str, Any]:
    """What a run of a task reported beside its timings: CPU time, retries, a time limit hit."""
    result = (record or {}).get("result")
    if not isinstance(result, dict):
        return {}
    cpu = result.get("cpu_seconds")
    return {
        "cpu_s": float(cpu) if isinstance(cpu, int | float) else None,
        "retries": int(result.get("retries") or 0),
        "timed_out": bool(result.get("timed_out")),
    }
