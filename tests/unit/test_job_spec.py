"""The job spec: what is accepted, and errors that name the field and what is allowed."""

from __future__ import annotations

import pytest

from burstlab.jobs.spec import JobSpec, ValidationError, parse_spec, parse_submission


def test_a_minimal_async_submission_is_parsed_with_defaults() -> None:
    mode, spec = parse_submission({"mode": "async", "kind": "io", "duration_ms": 50})
    assert mode == "async"
    assert spec == JobSpec(kind="io", duration_ms=50.0, payload_bytes=0)


def test_fractional_durations_and_integral_float_payloads_are_accepted() -> None:
    spec = parse_spec({"kind": "cpu", "duration_ms": 0.5, "payload_bytes": 10.0})
    assert spec.duration_ms == 0.5
    assert spec.payload_bytes == 10


@pytest.mark.parametrize(
    ("body", "code", "field", "words"),
    [
        ([], "invalid_body", None, "JSON object"),
        ({"kind": "io", "duration_ms": 1}, "missing_field", "mode", "sync, async"),
        ({"mode": "later", "kind": "io", "duration_ms": 1}, "invalid_value", "mode", "sync"),
        ({"mode": 1, "kind": "io", "duration_ms": 1}, "invalid_type", "mode", "string"),
        ({"mode": "sync", "duration_ms": 1}, "missing_field", "kind", "io, cpu"),
        ({"mode": "sync", "kind": "gpu", "duration_ms": 1}, "invalid_value", "kind", "io, cpu"),
        ({"mode": "sync", "kind": "io"}, "missing_field", "duration_ms", "0 to 60000"),
        (
            {"mode": "sync", "kind": "io", "duration_ms": "5"},
            "invalid_type",
            "duration_ms",
            "a string",
        ),
        (
            {"mode": "sync", "kind": "io", "duration_ms": True},
            "invalid_type",
            "duration_ms",
            "boolean",
        ),
        (
            {"mode": "sync", "kind": "io", "duration_ms": -1},
            "out_of_range",
            "duration_ms",
            "0 and 60000",
        ),
        (
            {"mode": "sync", "kind": "io", "duration_ms": 60001},
            "out_of_range",
            "duration_ms",
            "60000",
        ),
        (
            {"mode": "sync", "kind": "io", "duration_ms": 10**400},
            "out_of_range",
            "duration_ms",
            "...",
        ),
        (
            {"mode": "sync", "kind": "io", "duration_ms": 1, "payload_bytes": 1.5},
            "invalid_type",
            "payload_bytes",
            "integer",
        ),
        (
            {"mode": "sync", "kind": "io", "duration_ms": 1, "payload_bytes": 1048577},
            "out_of_range",
            "payload_bytes",
            "1048576",
        ),
        (
            {"mode": "sync", "kind": "io", "duration_ms": 1, "priority": 9},
            "unknown_field",
            "priority",
            "allowed fields are mode, kind, duration_ms, payload_bytes",
        ),
    ],
)
def test_invalid_submissions_are_rejected_with_a_precise_message(
    body: object, code: str, field: str | None, words: str
) -> None:
    # Given a bad body, When it is parsed, Then the error names the field and what is allowed
    with pytest.raises(ValidationError) as caught:
        parse_submission(body)
    assert caught.value.code == code
    assert caught.value.field == field
    assert words in caught.value.detail
    if field:
        assert repr(field) in caught.value.detail


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "async", "kind": "io", "duration_ms": 50},
        {"mode": "sync", "kind": "cpu", "duration_ms": 0.5, "payload_bytes": 10},
        {"mode": "async", "kind": "io", "duration_ms": 60000, "payload_bytes": 1048576},
    ],
)
def test_the_fast_path_and_the_full_validation_agree_on_valid_bodies(body: dict) -> None:
    from burstlab.jobs.spec import _fast_submission

    fast = _fast_submission(body)
    assert fast is not None
    assert fast == (body["mode"], parse_spec({k: v for k, v in body.items() if k != "mode"}))


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "async", "kind": "io", "duration_ms": True},
        {"mode": "async", "kind": "io", "duration_ms": float("nan")},
        {"mode": "async", "kind": "io", "duration_ms": 1, "payload_bytes": 1.0},
        {"mode": "async", "kind": "io", "duration_ms": 1, "extra": 1},
        {"mode": "async", "kind": "io"},
        {"mode": ["async"], "kind": "io", "duration_ms": 1},
    ],
)
def test_the_fast_path_leaves_anything_unusual_to_the_full_validation(body: dict) -> None:
    from burstlab.jobs.spec import _fast_submission

    assert _fast_submission(body) is None


def test_a_task_job_may_name_its_payload_line_and_no_other_job_may() -> None:
    # A task job picks a line of the target's payloads (0-based)
    assert parse_spec({"kind": "task", "payload_line": 7}).payload_line == 7
    assert parse_spec({"kind": "task"}).payload_line is None
    # Another kind is refused, naming the field
    with pytest.raises(ValidationError) as refused:
        parse_spec({"kind": "io", "duration_ms": 5, "payload_line": 0})
    assert refused.value.field == "payload_line" and "only with kind 'task'" in refused.value.detail
    # And so is a line that is not a non-negative integer
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValidationError) as wrong:
            parse_spec({"kind": "task", "payload_line": bad})
        assert wrong.value.field == "payload_line"
