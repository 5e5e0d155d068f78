"""Hostile input the generated requests do not cover: slow, oversized and malformed bodies.

Each request of ``faults.hostile.CATALOGUE`` is sent over a raw socket to a real producer;
every answer must be a JSON 4xx, quick, and the producer must go on serving.
(tests/integration/test_api_errors.py holds the plain bad requests; test_api_fuzz.py the
generated ones.)
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from burstlab.faults.hostile import BODY_TIMEOUT_S, CATALOGUE, Hostile, exchange, trickle
from burstlab.stack.local import LocalStack
from producer.app import create_app
from producer.config import ProducerConfig


@pytest.fixture
async def server(aiohttp_server: Any, stack: LocalStack) -> TestServer:
    config = ProducerConfig(
        redis_url=stack.redis_url, baseline_url=stack.baseline_url, body_timeout_s=BODY_TIMEOUT_S
    )
    return await aiohttp_server(create_app(config))


async def test_a_client_that_trickles_its_body_gets_408_and_the_connection_closes(
    server: TestServer,
) -> None:
    # Given a client that announces 100 bytes, sends a few, then one every 0.3 s
    # When it is still sending after the body timeout
    answer = await trickle(server.port)
    # Then it gets a JSON 408 once the timeout passes, and is told the connection closes
    assert answer.status == 408
    assert BODY_TIMEOUT_S <= answer.seconds < 2 * BODY_TIMEOUT_S + 0.5
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.body["error"] == "request_timeout"
    assert answer.headers["connection"].lower() == "close"


@pytest.mark.parametrize("case", CATALOGUE, ids=[case.name for case in CATALOGUE])
async def test_hostile_input_gets_a_quick_json_4xx(server: TestServer, case: Hostile) -> None:
    # When the hostile request is sent
    answer = await exchange(server.port, case.head, case.body)
    # Then it gets the expected JSON error at once (not after waiting out the body timeout),
    # and the producer goes on serving
    assert (answer.status, answer.body["error"]) == (case.status, case.code), answer.body
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.seconds < BODY_TIMEOUT_S
    healthz = await exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert healthz.status == 200
