"""A job's record as stored in a Redis hash: its field names, statuses, encoding and JSON view.

This module is the one owner of the record format. The producer writes the record when it
accepts a job (:func:`accepted_fields`, plus :func:`finished_fields` for a sync job it ran
through the baseline); the worker that runs an async job adds what it learned
(:func:`running_fields`, then :func:`finished_fields`); readers call :func:`decode_record`.
Every timestamp is epoch seconds (float).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

import orjson

from burstlab.jobs.spec import JobSpec, Mode

Status = Literal["queued", "running", "succeeded", "failed"]
QUEUED: Final = "queued"
RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
OUTCOMES: tuple[str, ...] = (SUCCEEDED, FAILED)
"""How a job can end: the final statuses, and the ``outcome`` label of every job metric."""
FINAL_STATUSES: frozenset[str] = frozenset(OUTCOMES)

RECORD_TTL_S = 24 * 3600
"""Records expire a day after the last write, so a long-lived Redis does not fill up."""

# Field names of the Redis hash.
STATUS = "status"
ACCEPTED = "accepted"
"""One field holding, as JSON, what the producer knew when it accepted the job (mode, kind,
duration, payload size, submitted and enqueued times): one field to write per job instead of
six. Fields written later take precedence."""
STARTED_AT = "started_at"
FINISHED_AT = "finished_at"
RESULT = "result"
ERROR = "error"
ATTEMPTS = "attempts"
"""Incremented by each worker start (a redelivered job is started again)."""
DUPLICATES = "duplicates"
"""Deliveries that found the job already finished and did not run it (at-least-once delivery:
a redelivered message is counted here, never run twice after a success)."""
WORKER = "worker"
"""The worker process that last started the job, ``pid@host``."""

TIMING_FIELDS = ("submitted_at", "enqueued_at", STARTED_AT, FINISHED_AT)


def _encode(value: Any) -> str:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def accepted_fields(
    mode: Mode, spec: JobSpec, submitted_at: float, enqueued_at: float
) -> dict[str, str]:
    """The fields written when the producer accepts a job (status ``queued``)."""
    known = {
        "mode": mode,
        **spec.to_dict(),
        "submitted_at": submitted_at,
        "enqueued_at": enqueued_at,
    }
    return {STATUS: QUEUED, ACCEPTED: orjson.dumps(known).decode()}


def running_fields(started_at: float, worker: str) -> dict[str, str]:
    """The fields a worker writes when it starts the job (it also increments ``attempts``)."""
    return {STATUS: RUNNING, STARTED_AT: repr(started_at), WORKER: worker}


def finished_fields(
    status: str,
    finished_at: float,
    *,
    started_at: float | None = None,
    result: Any = None,
    error: str | None = None,
) -> dict[str, str]:
    """The fields written when the job ends; ``None`` values are left out."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"not a final status: {status!r}")
    fields = {STATUS: status, FINISHED_AT: repr(finished_at)}
    for name, value in ((STARTED_AT, started_at), (RESULT, result), (ERROR, error)):
        if value is not None:
            fields[name] = _encode(value)
    return fields


def flat(fields: Mapping[str, str]) -> list[str]:
    """``fields`` as alternating names and values (the argument list of HSET)."""
    out: list[str] = []
    for name, value in fields.items():
        out.extend((name, value))
    return out


def _float_or_none(raw: str | float | None) -> float | None:
    return float(raw) if raw not in (None, "") else None


def decode_record(raw: Mapping[Any, Any]) -> dict[str, Any]:
    """Decode an HGETALL reply into typed values."""
    data: dict[str, Any] = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }
    accepted = data.pop(ACCEPTED, None)
    if accepted:
        for name, value in orjson.loads(accepted).items():
            data.setdefault(name, value)
    record: dict[str, Any] = dict(data)
    for name in TIMING_FIELDS:
        record[name] = _float_or_none(data.get(name))
    if "duration_ms" in data:
        record["duration_ms"] = float(data["duration_ms"])
    for name in ("payload_bytes", ATTEMPTS, DUPLICATES):
        if name in data:
            record[name] = int(data[name])
    record[RESULT] = orjson.loads(data[RESULT]) if data.get(RESULT) else None
    return record


def reruns(view: Mapping[str, Any]) -> int:
    """Runs of a job after its first that a redelivery caused, from its view (``GET /jobs/{id}``):
    ``attempts`` - 1, less the runs a user's task asked for itself (Celery retries,
    ``result.retries``), which are counted as retried."""
    result = view.get(RESULT)
    retries = int(result.get("retries") or 0) if isinstance(result, Mapping) else 0
    return max(0, int(view.get(ATTEMPTS) or 0) - 1 - retries)


def extra_deliveries(view: Mapping[str, Any]) -> int:
    """Deliveries of a job beyond its first, from its view: its :func:`reruns` plus deliveries
    acknowledged without running (``duplicates``)."""
    return reruns(view) + int(view.get(DUPLICATES) or 0)


def job_view(job_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """Return the public JSON form of a decoded record (``GET /jobs/{id}``)."""
    view: dict[str, Any] = {
        "job_id": job_id,
        "mode": record.get("mode"),
        "status": record.get(STATUS),
        "kind": record.get("kind"),
        "duration_ms": record.get("duration_ms"),
        "result": record.get(RESULT),
        "timings": {name: record.get(name) for name in TIMING_FIELDS},
        "attempts": record.get(ATTEMPTS, 0),
        "duplicates": record.get(DUPLICATES, 0),
        "worker": record.get(WORKER),
    }
    if record.get(ERROR):
        view[ERROR] = record[ERROR]
    return view
