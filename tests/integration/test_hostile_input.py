"""Hostile input the generated requests do not cover: slow, oversized and malformed bodies.

Each is sent over a raw socket to a real producer; every answer must be a JSON 4xx, quick,
and the producer must go on serving. (tests/integration/test_api_errors.py holds the
plain bad requests; tests/integration/test_api_fuzz.py the generated ones.)
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from producer.app import create_app
from producer.config import ProducerConfig
from stack.local import LocalStack

BODY_TIMEOUT_S = 1.0


@pytest.fixture
async def server(aiohttp_server: Any, stack: LocalStack) -> TestServer:
    config = ProducerConfig(
        redis_url=stack.redis_url, baseline_url=stack.baseline_url, body_timeout_s=BODY_TIMEOUT_S
    )
    return await aiohttp_server(create_app(config))


async def _exchange(
    server: TestServer, head: bytes, body: bytes = b"", *, read_s: float = 5.0
) -> tuple[int, dict[str, str], Any, float]:
    """Send ``head`` and ``body`` raw; return status, headers, decoded JSON, seconds taken."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    started = time.monotonic()
    writer.write(head + body)
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), read_s)
    elapsed = time.monotonic() - started
    headers: dict[str, str] = {}
    while (line := await asyncio.wait_for(reader.readline(), read_s)) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    payload = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), read_s)
    writer.close()
    return int(status_line.split()[1]), headers, json.loads(payload), elapsed


def _post(body: bytes, content_type: str = "application/json", length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (
        f"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()


async def test_a_client_that_trickles_its_body_gets_408_and_the_connection_closes(
    server: TestServer,
) -> None:
    # Given a client that announces 100 bytes and sends a few, then one byte now and then
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(_post(b"", length=100) + b'{"mode": ')
    await writer.drain()
    started = time.monotonic()

    async def trickle() -> None:
        for byte in b'"async", "kind"':
            await asyncio.sleep(0.3)
            writer.write(bytes([byte]))
            await writer.drain()

    trickling = asyncio.create_task(trickle())
    # When it is still sending after the body timeout
    status_line = await asyncio.wait_for(reader.readline(), 5)
    elapsed = time.monotonic() - started
    rest = await asyncio.wait_for(reader.read(4096), 5)
    trickling.cancel()
    writer.close()
    # Then it gets a JSON 408 once the timeout passes, and the server closes the connection
    assert b"408" in status_line
    assert BODY_TIMEOUT_S <= elapsed < BODY_TIMEOUT_S + 1.0
    assert b"application/json" in rest and b'"request_timeout"' in rest
    assert b"connection: close" in rest.lower()


HOSTILE: list[tuple[str, bytes, bytes, int, str]] = [
    ("deeply nested objects", _post(b'{"a":' * 100_000), b'{"a":' * 100_000, 400, "invalid_json"),
    ("deeply nested arrays", _post(b"[" * 100_000), b"[" * 100_000, 400, "invalid_json"),
    (
        "a 5000-digit duration",
        *(lambda b: (_post(b), b))(
            b'{"mode": "async", "kind": "io", "duration_ms": 1' + b"0" * 5000 + b"}"
        ),
        400,
        "invalid_json",
    ),
    (
        "a negative huge duration",
        *(lambda b: (_post(b), b))(b'{"mode": "async", "kind": "io", "duration_ms": -1e308}'),
        400,
        "out_of_range",
    ),
    (
        "an overflowing float",
        *(lambda b: (_post(b), b))(b'{"mode": "async", "kind": "io", "duration_ms": 1e400}'),
        400,
        "invalid_json",
    ),
    (
        "a huge payload size",
        *(lambda b: (_post(b), b))(
            b'{"mode": "async", "kind": "io", "duration_ms": 1, "payload_bytes": 1e300}'
        ),
        400,
        "out_of_range",
    ),
    ("invalid UTF-8 in a key", *(lambda b: (_post(b), b))(b'{"\xc3\x28": 1}'), 400, "invalid_json"),
    (
        "a lone surrogate escape",
        *(lambda b: (_post(b), b))(b'{"mode": "\\ud800", "kind": "io", "duration_ms": 1}'),
        400,
        "invalid_json",
    ),
    (
        "UTF-16 with a JSON content type",
        *(lambda b: (_post(b), b))('{"mode": "async"}'.encode("utf-16")),
        400,
        "invalid_json",
    ),
    ("a NUL byte body", *(lambda b: (_post(b), b))(b"\x00"), 400, "invalid_json"),
    (
        "text/plain",
        *(lambda b: (_post(b, "text/plain"), b))(b"mode=async"),
        415,
        "unsupported_media_type",
    ),
    (
        "a form",
        *(lambda b: (_post(b, "application/x-www-form-urlencoded"), b))(b"mode=async"),
        415,
        "unsupported_media_type",
    ),
    (
        "multipart",
        *(lambda b: (_post(b, "multipart/form-data; boundary=x"), b))(b"--x--"),
        415,
        "unsupported_media_type",
    ),
    (
        "a made-up JSON-ish type",
        *(lambda b: (_post(b, "application/jsonx"), b))(b"{}"),
        415,
        "unsupported_media_type",
    ),
    (
        "an announced 2 MiB body",
        _post(b"", length=2 * 1024 * 1024),
        b"{" + b" " * 1024,
        413,
        "body_too_large",
    ),
    (
        "a chunked 2 MiB body",
        b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"".join([b"100000\r\n" + b" " * 0x100000 + b"\r\n"] * 2) + b"0\r\n\r\n",
        413,
        "body_too_large",
    ),
    (
        "a percent-encoded invalid UTF-8 job id",
        b"GET /jobs/%FF%FE HTTP/1.1\r\nHost: x\r\n\r\n",
        b"",
        404,
        "job_not_found",
    ),
    (
        "a wait that is not a number",
        b"GET /jobs/x?wait=1e999999 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"",
        400,
        "invalid_query",
    ),
]


@pytest.mark.parametrize(
    ("head", "body", "status", "code"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
async def test_hostile_input_gets_a_quick_json_4xx(
    server: TestServer, head: bytes, body: bytes, status: int, code: str
) -> None:
    # When the hostile request is sent
    got, headers, error, elapsed = await _exchange(server, head, body)
    # Then it gets the expected JSON error at once, and the producer goes on serving
    assert (got, error["error"]) == (status, code), error
    assert headers["content-type"].startswith("application/json")
    assert elapsed < 1.0
    ok, _, _, _ = await _exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert ok == 200
