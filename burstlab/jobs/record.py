"""A job's record as stored in a Redis hash, and its public JSON view.

The producer writes the record when it accepts a job; the process that runs the job
updates ``status`` and the timestamps. Every timestamp is epoch seconds (float).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson

Status = Literal["queued", "running", "succeeded", "failed"]
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed"})
TIMING_FIELDS = ("submitted_at", "enqueued_at", "started_at", "finished_at")
RECORD_TTL_S = 24 * 3600
"""Records expire a day after the last write, so a long-lived Redis does not fill up."""


def encode_fields(fields: dict[str, Any]) -> dict[str, str]:
    """Encode values for HSET: numbers as repr, dicts as JSON, None dropped."""
    encoded: dict[str, str] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, dict | list):
            encoded[key] = orjson.dumps(value).decode()
        else:
            encoded[key] = str(value)
    return encoded


def _float_or_none(raw: str | float | None) -> float | None:
    return float(raw) if raw not in (None, "") else None


ACCEPTED_FIELD = "accepted"
"""One field holding, as JSON, what the producer knew when it accepted an async job (mode,
kind, duration, payload size, submitted and enqueued times): one field to write per job
instead of six. Fields written later by a worker take precedence."""


def decode_record(raw: Mapping[Any, Any]) -> dict[str, Any]:
    """Decode an HGETALL reply into typed values."""
    data: dict[str, Any] = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }
    accepted = data.pop(ACCEPTED_FIELD, None)
    if accepted:
        for name, value in orjson.loads(accepted).items():
            data.setdefault(name, value)
    record: dict[str, Any] = dict(data)
    for name in TIMING_FIELDS:
        record[name] = _float_or_none(data.get(name))
    if "duration_ms" in data:
        record["duration_ms"] = float(data["duration_ms"])
    for name in ("payload_bytes", "attempts"):
        if name in data:
            record[name] = int(data[name])
    record["result"] = orjson.loads(data["result"]) if data.get("result") else None
    return record


def job_view(job_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """Return the public JSON form of a decoded record (``GET /jobs/{id}``)."""
    view: dict[str, Any] = {
        "job_id": job_id,
        "mode": record.get("mode"),
        "status": record.get("status"),
        "kind": record.get("kind"),
        "duration_ms": record.get("duration_ms"),
        "result": record.get("result"),
        "timings": {name: record.get(name) for name in TIMING_FIELDS},
        "attempts": record.get("attempts", 0),
    }
    if record.get("error"):
        view["error"] = record["error"]
    return view
