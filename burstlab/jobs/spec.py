"""The job spec and its validation.

A job is ``kind`` ("io" sleeps, "cpu" burns CPU, "task" runs the next payload of the user's
Celery task that the stack was started with), ``duration_ms`` (not used by "task") and an
optional ``payload_bytes`` whose size is carried with the job and echoed in the result.
Validation errors name the field, say what was wrong and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["io", "cpu", "task"]
Mode = Literal["sync", "async"]

KINDS: tuple[Kind, ...] = ("io", "cpu", "task")
TASK_KIND: Kind = "task"
"""The kind of a job that runs the user's own Celery task (see :mod:`burstlab.jobs.target`)."""
MODES: tuple[Mode, ...] = ("sync", "async")
MAX_DURATION_MS = 60_000
MAX_PAYLOAD_BYTES = 1_048_576
MAX_PAYLOAD_LINE = 10_000_000


class ValidationError(ValueError):
    """A client-supplied value is not acceptable; ``code`` is the API error code."""

    def __init__(self, code: str, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.field = field
        self.detail = detail


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What to run: the same spec runs in the sync baseline and in a Celery worker."""

    kind: Kind
    duration_ms: float
    payload_bytes: int = 0
    payload_line: int | None = None
    """A ``task`` job's line of the target's payloads (None: the next in turn); the producer
    resolves it to the call, so it is not part of the work sent on."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "kind": self.kind,
            "duration_ms": self.duration_ms,
            "payload_bytes": self.payload_bytes,
        }


SPEC_FIELDS = ("kind", "duration_ms", "payload_bytes", "payload_line")
SUBMIT_FIELDS = ("mode", *SPEC_FIELDS)


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _require_object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError(
            "invalid_body", None, f"the request body must be a JSON object, got {_describe(body)}"
        )
    return body


def _check_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(key for key in body if key not in allowed)
    if unknown:
        raise ValidationError(
            "unknown_field",
            unknown[0],
            f"unknown field {unknown[0]!r}; allowed fields are {', '.join(allowed)}",
        )


def _choice(body: dict[str, Any], field: str, allowed: tuple[str, ...]) -> str:
    if field not in body:
        raise ValidationError(
            "missing_field", field, f"field {field!r} is required; one of {', '.join(allowed)}"
        )
    value = body[field]
    if not isinstance(value, str):
        raise ValidationError(
            "invalid_type", field, f"field {field!r} must be a string, got {_describe(value)}"
        )
    if value not in allowed:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise ValidationError(
            "invalid_value",
            field,
            f"field {field!r} must be one of {', '.join(allowed)}, got {shown!r}",
        )
    return value


def _number(body: dict[str, Any], field: str, low: float, high: float, *, integer: bool) -> float:
    value = body[field]
    wanted = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(
            "invalid_type", field, f"field {field!r} must be {wanted}, got {_describe(value)}"
        )
    if integer and isinstance(value, float) and not value.is_integer():
        raise ValidationError(
            "invalid_type", field, f"field {field!r} must be an integer, got {value!r}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("out_of_range", field, f"field {field!r} must be finite")
    if not low <= value <= high:
        shown = repr(value) if len(repr(value)) <= 30 else repr(value)[:30] + "..."
        raise ValidationError(
            "out_of_range",
            field,
            f"field {field!r} must be between {low:.15g} and {high:.15g}, got {shown}",
        )
    return float(value)


def parse_spec(body: object, *, allowed: tuple[str, ...] = SPEC_FIELDS) -> JobSpec:
    """Validate a decoded JSON object into a :class:`JobSpec`."""
    data = _require_object(body)
    _check_fields(data, allowed)
    kind = _choice(data, "kind", KINDS)
    if kind == TASK_KIND and "duration_ms" not in data:
        data = {**data, "duration_ms": 0}
    if "duration_ms" not in data:
        raise ValidationError(
            "missing_field",
            "duration_ms",
            f"field 'duration_ms' is required; a number from 0 to {MAX_DURATION_MS}",
        )
    duration_ms = _number(data, "duration_ms", 0, MAX_DURATION_MS, integer=False)
    payload_bytes = 0
    if "payload_bytes" in data:
        payload_bytes = int(_number(data, "payload_bytes", 0, MAX_PAYLOAD_BYTES, integer=True))
    line = None
    if "payload_line" in data:
        if kind != TASK_KIND:
            raise ValidationError(
                "invalid_value",
                "payload_line",
                "field 'payload_line' picks a line of a task target's payloads: only with kind "
                f"'task', got kind {kind!r}",
            )
        line = int(_number(data, "payload_line", 0, MAX_PAYLOAD_LINE, integer=True))
    return JobSpec(kind=kind, duration_ms=duration_ms, payload_bytes=payload_bytes,  # type: ignore[arg-type]
                   payload_line=line)  # fmt: skip


def _fast_submission(body: dict[str, Any]) -> tuple[Mode, JobSpec] | None:
    """The common, valid case in a few comparisons; None sends it to the full validation."""
    mode, kind = body.get("mode"), body.get("kind")
    duration: Any = body.get("duration_ms")
    payload: Any = body.get("payload_bytes", 0)
    if (
        len(body) == 3 + ("payload_bytes" in body)
        and (mode == "async" or mode == "sync")
        and (kind == "io" or kind == "cpu")
        and type(duration) in (int, float)
        and 0 <= duration <= MAX_DURATION_MS
        and type(payload) is int
        and 0 <= payload <= MAX_PAYLOAD_BYTES
    ):
        return mode, JobSpec(kind=kind, duration_ms=float(duration), payload_bytes=payload)
    return None


def parse_submission(body: object) -> tuple[Mode, JobSpec]:
    """Validate a ``POST /jobs`` body into its mode and spec."""
    if type(body) is dict:
        fast = _fast_submission(body)
        if fast is not None:
            return fast
    data = _require_object(body)
    _check_fields(data, SUBMIT_FIELDS)
    mode = _choice(data, "mode", MODES)
    spec = parse_spec({k: v for k, v in data.items() if k != "mode"})
    return mode, spec  # type: ignore[return-value]
