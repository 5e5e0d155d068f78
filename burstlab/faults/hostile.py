"""Hostile input over raw sockets: slow, oversized and malformed bodies, odd content types.

Each request must get a quick JSON 4xx naming what was wrong, and the producer must go on
serving. (The generated requests of tests/integration/test_api_fuzz.py cover the rest.)
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from burstlab.faults.probes import rss_mib
from burstlab.faults.report import FaultReport
from burstlab.stack.local import LocalStack, StackConfig

BODY_TIMEOUT_S = 1.0


def post_head(content_type: str = "application/json", length: int = 0) -> bytes:
    """The head of a ``POST /jobs`` announcing ``length`` body bytes."""
    return (
        f"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


@dataclass(frozen=True)
class Hostile:
    """One hostile request and the JSON error it must get."""

    name: str
    head: bytes
    body: bytes
    status: int
    code: str


def _post(
    name: str, body: bytes, status: int, code: str, ctype: str = "application/json"
) -> Hostile:
    return Hostile(name, post_head(ctype, len(body)), body, status, code)


_JOB = b'{"mode": "async", "kind": "io", "duration_ms": '
_CHUNK = b"100000\r\n" + b" " * 0x100000 + b"\r\n"

CATALOGUE: list[Hostile] = [
    _post("deeply nested objects", b'{"a":' * 100_000, 400, "invalid_json"),
    _post("deeply nested arrays", b"[" * 100_000, 400, "invalid_json"),
    _post("a 5000-digit duration", _JOB + b"1" + b"0" * 5000 + b"}", 400, "invalid_json"),
    _post("a negative huge duration", _JOB + b"-1e308}", 400, "out_of_range"),
    _post("an overflowing float", _JOB + b"1e400}", 400, "invalid_json"),
    _post("a huge payload size", _JOB + b'1, "payload_bytes": 1e300}', 400, "out_of_range"),
    _post("invalid UTF-8 in a key", b'{"\xc3\x28": 1}', 400, "invalid_json"),
    _post("a lone surrogate escape", b'{"mode": "\\ud800"}', 400, "invalid_json"),
    _post("UTF-16 labelled JSON", '{"mode": "async"}'.encode("utf-16"), 400, "invalid_json"),
    _post("a NUL byte", b"\x00", 400, "invalid_json"),
    _post("text/plain", b"mode=async", 415, "unsupported_media_type", "text/plain"),
    _post("a form", b"a=1", 415, "unsupported_media_type", "application/x-www-form-urlencoded"),
    _post("multipart", b"--x--", 415, "unsupported_media_type", "multipart/form-data; boundary=x"),
    _post("a made-up JSON-ish type", b"{}", 415, "unsupported_media_type", "application/jsonx"),
    Hostile("an announced 2 MiB body", post_head(length=2 * 1024 * 1024), b"{" + b" " * 1024,
            413, "body_too_large"),
    Hostile("a chunked 2 MiB body",
            b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            _CHUNK * 2 + b"0\r\n\r\n", 413, "body_too_large"),
    Hostile("an invalid UTF-8 job id", b"GET /jobs/%FF%FE HTTP/1.1\r\nHost: x\r\n\r\n", b"",
            404, "job_not_found"),
    Hostile("a wait that overflows", b"GET /jobs/x?wait=1e999999 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"", 400, "invalid_query"),
]  # fmt: skip


@dataclass
class Exchange:
    """What came back: status, headers, the decoded JSON body (or ``None``), seconds taken."""

    status: int
    headers: dict[str, str]
    body: Any
    seconds: float


async def exchange(port: int, head: bytes, body: bytes = b"", read_s: float = 5.0) -> Exchange:
    """Send ``head`` and ``body`` raw to ``127.0.0.1:port`` and read one answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        started = time.monotonic()
        writer.write(head + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), read_s)
        seconds = time.monotonic() - started
        headers: dict[str, str] = {}
        while (line := await asyncio.wait_for(reader.readline(), read_s)) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), read_s)
    finally:
        writer.close()
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    return Exchange(int(status_line.split()[1]), headers, decoded, seconds)


async def trickle(port: int, byte_interval_s: float = 0.3) -> Exchange:
    """A client that announces 100 body bytes, sends a few, then one now and then."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(post_head(length=100) + b'{"mode": ')
    await writer.drain()

    async def drip() -> None:
        for byte in b'"async", "kind": "io"':
            await asyncio.sleep(byte_interval_s)
            writer.write(bytes([byte]))
            await writer.drain()

    dripping = asyncio.create_task(drip())
    try:
        status_line = await asyncio.wait_for(reader.readline(), 10)
        seconds = time.monotonic() - started
        rest = await asyncio.wait_for(reader.read(4096), 5)
    finally:
        dripping.cancel()
        writer.close()
    head, _, body = rest.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    return Exchange(int(status_line.split()[1]), headers, decoded, seconds)


async def _run_all(port: int) -> list[tuple[str, Exchange, bool]]:
    results = []
    for case in CATALOGUE:
        got = await exchange(port, case.head, case.body)
        expected = got.status == case.status and (got.body or {}).get("error") == case.code
        results.append((case.name, got, expected))
    slow = await trickle(port)
    results.append(("a body trickled byte by byte", slow, slow.status == 408))
    return results


def hostile_input() -> FaultReport:
    """Send every hostile request of the catalogue, and a trickled body, to a producer."""
    config = StackConfig(workers=1, baseline_workers=1, extra_env={"BODY_TIMEOUT_S": "1"})
    with LocalStack(config) as stack:
        rss_before = rss_mib(stack.producer.pid)[0]
        results = asyncio.run(_run_all(stack.port))
        alive = asyncio.run(exchange(stack.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
        rss_after, rss_peak = rss_mib(stack.producer.pid)
    json_4xx = [r for r in results if 400 <= r[1].status < 500 and isinstance(r[1].body, dict)]
    wrong = [name for name, _, expected in results if not expected]
    slowest = max(r[1].seconds for r in results if r[0] != "a body trickled byte by byte")
    return FaultReport(
        name="hostile-input",
        fault=f"{len(results)} hostile requests over raw sockets (nested, huge numbers, bad "
        "UTF-8, wrong types, oversized, trickled)",
        lost=len(results) - len(json_4xx),
        refused=len(json_4xx),
        rss_mb=(rss_before, rss_peak, rss_after),
        notes={
            "answered as expected": f"{len(results) - len(wrong)}/{len(results)}",
            "unexpected": ",".join(wrong) or "none",
            "slowest answer s": round(slowest, 3),
            "trickled body answered s": round(results[-1][1].seconds, 2),
            "alive after": alive.status == 200,
        },
    )
