"""Bad requests get a JSON error with a code and a message; none causes a 500."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from burstlab.stack.local import LocalStack
from producer.app import create_app
from producer.config import ProducerConfig

J = {"Content-Type": "application/json"}
GOOD = b'{"mode": "async", "kind": "io", "duration_ms": 1}'

BAD_REQUESTS: list[tuple[str, str, dict[str, str], bytes, int, str]] = [
    ("POST", "/jobs", J, b"{not json", 400, "invalid_json"),
    ("POST", "/jobs", J, b"", 400, "invalid_json"),
    ("POST", "/jobs", J, b'{"mode": "async", "kind": "io", "duration_ms": 1', 400, "invalid_json"),
    ("POST", "/jobs", J, b'"just a string"', 400, "invalid_body"),
    ("POST", "/jobs", J, b"[1, 2]", 400, "invalid_body"),
    ("POST", "/jobs", J, b'{"mode": "async", "kind": "io"}', 400, "missing_field"),
    ("POST", "/jobs", J, b'{"kind": "io", "duration_ms": 1}', 400, "missing_field"),
    (
        "POST",
        "/jobs",
        J,
        b'{"mode": "maybe", "kind": "io", "duration_ms": 1}',
        400,
        "invalid_value",
    ),
    (
        "POST",
        "/jobs",
        J,
        b'{"mode": "sync", "kind": "disk", "duration_ms": 1}',
        400,
        "invalid_value",
    ),
    (
        "POST",
        "/jobs",
        J,
        b'{"mode": "sync", "kind": "io", "duration_ms": "1"}',
        400,
        "invalid_type",
    ),
    (
        "POST",
        "/jobs",
        J,
        b'{"mode": "sync", "kind": "io", "duration_ms": null}',
        400,
        "invalid_type",
    ),
    ("POST", "/jobs", J, b'{"mode": "sync", "kind": "io", "duration_ms": -5}', 400, "out_of_range"),
    (
        "POST",
        "/jobs",
        J,
        b'{"mode": "sync", "kind": "io", "duration_ms": 1e999}',
        400,
        "invalid_json",
    ),
    (
        "POST",
        "/jobs",
        J,
        b'{"mode": "sync", "kind": "io", "duration_ms": 99999999999999999999999}',
        400,
        "out_of_range",
    ),
    (
        "POST",
        "/jobs",
        J,
        b'{"mode": "sync", "kind": "io", "duration_ms": 1, "payload_bytes": 2e6}',
        400,
        "out_of_range",
    ),
    (
        "POST",
        "/jobs",
        J,
        b'{"mode": "sync", "kind": "io", "duration_ms": 1, "x": 1}',
        400,
        "unknown_field",
    ),
    (
        "POST",
        "/jobs",
        J,
        b'{"mode": "\xff\xfe", "kind": "io", "duration_ms": 1}',
        400,
        "invalid_json",
    ),
    ("POST", "/jobs", J, b"[" * 5000 + b"]" * 5000, 400, "invalid_json"),
    ("POST", "/jobs", {"Content-Type": "text/xml"}, b"<job/>", 415, "unsupported_media_type"),
    ("POST", "/jobs", J, b'{"pad": "' + b"a" * (1024 * 1024 + 10) + b'"}', 413, "body_too_large"),
    ("GET", "/jobs", {}, b"", 405, "method_not_allowed"),
    ("DELETE", "/jobs/abc", {}, b"", 405, "method_not_allowed"),
    ("PUT", "/healthz", {}, b"", 405, "method_not_allowed"),
    ("GET", "/jobs/does-not-exist", {}, b"", 404, "job_not_found"),
    ("GET", "/jobs/" + "a" * 200, {}, b"", 404, "job_not_found"),
    ("GET", "/nowhere", {}, b"", 404, "not_found"),
    ("GET", "/jobs/x?wait=abc", {}, b"", 400, "invalid_query"),
    ("GET", "/jobs/x?wait=61", {}, b"", 400, "invalid_query"),
    ("GET", "/jobs/x?wait=-1", {}, b"", 400, "invalid_query"),
    ("GET", "/jobs/x?wait=nan", {}, b"", 400, "invalid_query"),
]


@pytest.fixture
async def client(aiohttp_client: Any, stack: LocalStack) -> TestClient:
    config = ProducerConfig(redis_url=stack.redis_url, baseline_url=stack.baseline_url)
    return await aiohttp_client(create_app(config))


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    BAD_REQUESTS,
    ids=[
        f"{m} {p[:30]} {c}"
        for m, p, _, _, _, c in [(r[0], r[1], 0, 0, 0, r[5]) for r in BAD_REQUESTS]
    ],
)
async def test_a_bad_request_gets_a_json_error_with_its_code(
    client: TestClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    code: str,
) -> None:
    # When the bad request is sent
    response = await client.request(method, path, data=body, headers=headers)
    # Then it gets the expected status and a JSON error naming what was wrong
    assert response.status == status
    assert response.content_type == "application/json"
    error = await response.json()
    assert error["error"] == code
    assert isinstance(error["detail"], str) and len(error["detail"]) > 10


async def test_a_method_not_allowed_answer_lists_the_allowed_methods(client: TestClient) -> None:
    response = await client.get("/jobs")
    assert response.status == 405
    assert "POST" in response.headers["Allow"]


async def test_a_validation_error_names_the_field(client: TestClient) -> None:
    response = await client.post(
        "/jobs", data=b'{"mode": "sync", "kind": "io", "duration_ms": 70000}', headers=J
    )
    error = await response.json()
    assert error["field"] == "duration_ms"
    assert "60000" in error["detail"]


async def test_a_good_request_after_bad_ones_is_still_accepted(client: TestClient) -> None:
    response = await client.post("/jobs", data=GOOD, headers=J)
    assert response.status == 202
