"""The job status events published on :data:`burstlab.jobs.names.JOB_EVENTS_CHANNEL`.

The one owner of the event format. A worker publishes the bare job id when a job starts, and a
:class:`FinalEvent` (JSON) when it ends. A final event carries only what the worker learned:
the outcome, when it started and finished, and which worker ran it. What the producer knew when
it accepted the job (mode, submitted and enqueued times) it keeps; it is not sent round.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class FinalEvent:
    """A job ended: its outcome and timings as the worker measured them."""

    job_id: str
    status: str
    started_at: float | None
    """``None`` when the job never started (its spec was not valid)."""
    finished_at: float
    worker: str


def encode_started(job_id: str) -> bytes:
    """The event published when a job starts: its bare id."""
    return job_id.encode()


def encode_final(event: FinalEvent) -> bytes:
    """The event published when a job ends: a JSON object."""
    return orjson.dumps(
        {
            "job_id": event.job_id,
            "status": event.status,
            "started_at": event.started_at,
            "finished_at": event.finished_at,
            "worker": event.worker,
        }
    )


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def decode_event(data: bytes | str) -> str | FinalEvent:
    """Return the job id of a start event, or the :class:`FinalEvent` of a final one.

    Raises :class:`ValueError` for a message that is neither.
    """
    if isinstance(data, str):
        data = data.encode()
    if not data.startswith(b"{"):
        return data.decode()
    try:
        raw = orjson.loads(data)
        job_id, status = raw["job_id"], raw["status"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"not a job event: {data[:200]!r}") from exc
    finished_at = _float(raw.get("finished_at"))
    if not isinstance(job_id, str) or not isinstance(status, str) or finished_at is None:
        raise ValueError(f"not a job event: {data[:200]!r}")
    return FinalEvent(
        job_id=job_id,
        status=status,
        started_at=_float(raw.get("started_at")),
        finished_at=finished_at,
        worker=str(raw.get("worker", "")),
    )
