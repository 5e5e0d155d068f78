"""The JSON Schemas of the producer's request and response bodies (see :mod:`producer.openapi`)."""

from __future__ import annotations

from typing import Any

from burstlab.jobs.experiment_context import (
    CONTEXT_MODES,
    MAX_OFFERED_RATE,
    MAX_RHO,
    MAX_SLO_S,
    MAX_WORKERS,
)
from burstlab.jobs.spec import (
    KINDS,
    MAX_DURATION_MS,
    MAX_PAYLOAD_BYTES,
    MAX_PAYLOAD_LINE,
    MODES,
)

ERROR_REF = {"$ref": "#/components/schemas/Error"}
_TIMINGS = {
    "type": "object",
    "properties": {
        name: {"type": ["number", "null"]}
        for name in ("submitted_at", "enqueued_at", "started_at", "finished_at")
    },
}
_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "description": "a stable code, e.g. out_of_range"},
            "detail": {"type": "string"},
            "field": {"type": "string", "description": "the field at fault, if one is"},
        },
    },
    "JobSubmission": {
        "type": "object",
        "required": ["mode", "kind", "duration_ms"],
        "additionalProperties": False,
        "properties": {
            "mode": {"type": "string", "enum": list(MODES)},
            "kind": {"type": "string", "enum": list(KINDS)},
            "duration_ms": {"type": "number", "minimum": 0, "maximum": MAX_DURATION_MS},
            "payload_bytes": {"type": "integer", "minimum": 0, "maximum": MAX_PAYLOAD_BYTES},
            "payload_line": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_PAYLOAD_LINE,
                "description": "kind task only: the line of the target's payloads to run "
                "(0-based; default: the next in turn)",
            },
        },
    },
    "SyncResult": {
        "type": "object",
        "required": ["job_id", "mode", "status", "result", "timings"],
        "properties": {
            "job_id": {"type": "string"},
            "mode": {"const": "sync"},
            "status": {
                "enum": ["succeeded", "failed"],
                "description": "failed: the job ran and raised (a user's task can); see error",
            },
            "result": {"type": ["object", "null"]},
            "timings": _TIMINGS,
            "error": {"type": "string"},
            "worker": {
                "type": "string",
                "description": "the baseline process that ran it, as pid@host",
            },
        },
    },
    "Queued": {
        "type": "object",
        "required": ["job_id", "mode", "status", "status_url"],
        "properties": {
            "job_id": {"type": "string"},
            "mode": {"const": "async"},
            "status": {"const": "queued"},
            "status_url": {"type": "string"},
        },
    },
    "Job": {
        "type": "object",
        "required": ["job_id", "mode", "status", "timings", "attempts"],
        "properties": {
            "job_id": {"type": "string"},
            "mode": {"type": ["string", "null"], "enum": [*MODES, None]},
            "status": {"type": ["string", "null"]},
            "kind": {"type": ["string", "null"]},
            "duration_ms": {"type": ["number", "null"]},
            "result": {"type": ["object", "null"]},
            "timings": _TIMINGS,
            "attempts": {"type": "integer", "minimum": 0},
            "duplicates": {"type": "integer", "minimum": 0},
            "worker": {
                "type": ["string", "null"],
                "description": "the worker process that last started it, as pid@host",
            },
            "error": {"type": "string"},
        },
    },
    "SyncBacklog": {
        "type": "object",
        "description": "sync jobs held by this producer: waiting for a forwarding slot, "
        "forwarded to the baseline (in flight), and their sum",
        "required": ["waiting", "in_flight", "backlog"],
        "properties": {
            name: {"type": "integer", "minimum": 0} for name in ("waiting", "in_flight", "backlog")
        },
    },
    "Experiment": {
        "type": "object",
        "required": ["scenario", "mode", "workers", "phase"],
        "additionalProperties": False,
        "properties": {
            "scenario": _NAME,
            "mode": {"type": "string", "enum": list(CONTEXT_MODES)},
            "workers": {"type": "integer", "minimum": 0, "maximum": MAX_WORKERS},
            "phase": _NAME,
            "rho": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_RHO,
                "description": "a sweep step's utilisation of the measured capacity N / S",
            },
            "offered_rate": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_OFFERED_RATE,
                "description": "the rate the sweep step offers, jobs/s",
            },
            "slo_p99_s": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_SLO_S,
                "description": "the sweep's p99 latency SLO, seconds",
            },
        },
    },
    "ExperimentView": {
        "type": "object",
        "required": ["context"],
        "properties": {
            "context": {"anyOf": [{"$ref": "#/components/schemas/Experiment"}, {"type": "null"}]}
        },
    },
}
