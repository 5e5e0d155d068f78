"""Property-based tests: requests generated from the producer's own OpenAPI document.

schemathesis turns ``GET /openapi.json`` into Hypothesis strategies for every operation, both
valid requests and invalid ones (wrong types, values out of range, missing and extra fields,
bad query strings). Each is sent to a real producer process (real Redis, real baseline):
none may get a 5xx, every error must be JSON with a code and a message, every answer must
match the document, and the producer must still be alive at the end.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from burstlab.jobs.names import priority_queue_names
from burstlab.stack.health import http_ok
from burstlab.stack.local import LocalStack
from burstlab.stack.ports import free_port
from burstlab.stack.process import ManagedProcess

EXAMPLES_PER_OPERATION_AND_MODE = 150
MIN_REQUESTS = 1000
FUZZ_QUEUE = "fuzz-no-consumer"
"""Async jobs the fuzzer submits wait on a queue no worker reads; it is deleted afterwards."""
MAX_FUZZ_JOB_MS = 5.0


@pytest.fixture(scope="module")
def producer_url(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": stack.redis_url,
        "BASELINE_URL": stack.baseline_url,
        "PRODUCER_PORT": str(port),
        "QUEUE_NAME": FUZZ_QUEUE,
        "BODY_TIMEOUT_S": "2",
    }
    log = tmp_path_factory.mktemp("fuzz") / "producer.log"
    process = ManagedProcess("producer", [sys.executable, "-m", "burstlab", "producer"], env, log)
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if http_ok(f"{url}/healthz"):
                break
            assert process.is_running(), process.tail()
            import time

            time.sleep(0.1)
        yield url
        # And it is still alive and serving after everything it was sent
        assert process.is_running(), process.tail()
        assert http_ok(f"{url}/healthz")
        assert "Traceback" not in Path(log).read_text(), process.tail(40)
    finally:
        process.stop()
        client = redis.Redis.from_url(stack.redis_url)
        client.delete(*priority_queue_names(FUZZ_QUEUE))


def _keep_jobs_short(case: Any) -> None:
    """A valid job may ask for 60 s: the fuzzer runs thousands, so valid ones take <= 5 ms."""
    body = case.body
    duration = body.get("duration_ms") if isinstance(body, dict) else None
    if isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0:
        body["duration_ms"] = min(duration, MAX_FUZZ_JOB_MS)
    if isinstance(case.query, dict) and "wait" in case.query:
        wait = case.query["wait"]
        if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 < wait <= 60:
            case.query["wait"] = 0.1


def _fuzz(
    operation: Any, mode: GenerationMode, url: str, session: requests.Session, sent: dict[str, int]
) -> None:
    """Send up to ``EXAMPLES_PER_OPERATION_AND_MODE`` generated requests for ``operation``."""
    label = operation.label

    @settings(
        max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        _keep_jobs_short(case)
        response = case.call(base_url=url, session=session, timeout=30)
        sent[label] = sent.get(label, 0) + 1
        assert response.status_code < 500, (label, case.body, response.text)
        if response.status_code >= 400:
            content_type = response.headers.get("content-type", [""])[0]
            assert content_type.startswith("application/json"), (label, response.text)
            error = response.json()
            assert isinstance(error["error"], str) and isinstance(error["detail"], str)
        # And every answer is what the document says (status, content type, body schema)
        case.validate_response(
            response, checks=[content_type_conformance, response_schema_conformance]
        )

    send()


def test_generated_requests_get_no_5xx_and_every_error_is_json(producer_url: str) -> None:
    # Given the producer's own description of its API
    schema = schemathesis.openapi.from_url(f"{producer_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    sent: dict[str, int] = {}
    session = requests.Session()
    # When thousands of valid and invalid requests generated from it are sent
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, producer_url, session, sent)
            except Unsatisfiable:
                # An operation with no input has no invalid form to generate.
                assert mode is GenerationMode.NEGATIVE, operation.label
    # Then (checked on each answer in _fuzz) none was a server error, every error was JSON
    assert sum(sent.values()) >= MIN_REQUESTS, sent
    print(f"\n{sum(sent.values())} generated requests: {sent}")
    assert all(count > 0 for count in sent.values())
