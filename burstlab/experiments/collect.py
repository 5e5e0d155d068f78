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

import aiohttp

from burstlab.experiments.loadgen import Sent
from burstlab.experiments.records import JobRow
from burstlab.jobs.names import MAX_LOOKUP_IDS
from burstlab.jobs.record import FINAL_STATUSES as FINAL

_LONG_POLL_S = 5.0


async def _lookup(
    session: aiohttp.ClientSession, base_url: str, job_ids: list[str]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(job_ids), MAX_LOOKUP_IDS):
        chunk = job_ids[i : i + MAX_LOOKUP_IDS]
        async with session.post(f"{base_url}/jobs/lookup", json={"job_ids": chunk}) as response:
            response.raise_for_status()
            body = await response.json()
        for job in body["jobs"]:
            found[job["job_id"]] = job
    return found


async def collect_async(
    session: aiohttp.ClientSession,
    base_url: str,
    sends: Iterable[Sent],
    *,
    drain_timeout_s: float,
) -> dict[str, dict[str, Any]]:
    """Wait (up to ``drain_timeout_s``) for every accepted async job; return each job's record.

    Jobs still unfinished at the deadline are returned with their last known record (or not
    at all if it could not be read); the caller counts them as lost.
    """
    base_url = base_url.rstrip("/")
    ids = [s.body["job_id"] for s in sends if s.status == 202 and s.body and "job_id" in s.body]
    records: dict[str, dict[str, Any]] = {}
    pending = list(ids)
    deadline = time.monotonic() + drain_timeout_s
    while pending:
        try:
            records.update(await _lookup(session, base_url, pending))
        except (aiohttp.ClientError, TimeoutError):
            await asyncio.sleep(0.5)
        pending = [i for i in pending if records.get(i, {}).get("status") not in FINAL]
        remaining = deadline - time.monotonic()
        if not pending or remaining <= 0:
            break
        wait = min(_LONG_POLL_S, remaining)
        try:
            async with session.get(
                f"{base_url}/jobs/{pending[0]}",
                params={"wait": f"{wait:.3f}"},
                timeout=aiohttp.ClientTimeout(total=wait + 5),
            ) as response:
                await response.read()
        except (aiohttp.ClientError, TimeoutError):
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
            outcome = "succeeded" if sent.status == 200 else "rejected"
        elif sent.status != 202:
            outcome = "rejected"
        else:
            record = records.get(job_id)
            status = record.get("status") if record else None
            outcome = status if status in FINAL else "lost"
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
            )
        )
    return rows
