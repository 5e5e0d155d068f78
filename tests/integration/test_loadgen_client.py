"""The generator's own HTTP/1.1 client against a real aiohttp server on a real port."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from burstlab.experiments.loadgen.generator import Progress, generate
from burstlab.experiments.loadgen.rawhttp import Connection, Endpoint, build_post
from burstlab.scenario.schedule import PlannedJob, Schedule


def _app(seen: dict[str, Any]) -> web.Application:
    async def accept(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seen["bodies"].append(body)
        seen["peers"].add(
            request.transport.get_extra_info("peername") if request.transport else None
        )
        return web.json_response({"job_id": f"job-{len(seen['bodies'])}"}, status=202)

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=201)
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"part":')
        await response.write(b'"two"}')
        await response.write_eof()
        return response

    async def closing(request: web.Request) -> web.Response:
        return web.Response(status=503, body=b"{}", headers={"Connection": "close"})

    async def silent(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response(status=500)

    async def slow(request: web.Request) -> web.Response:
        seen["in_flight"] = seen.get("in_flight", 0) + 1
        seen["most_in_flight"] = max(seen.get("most_in_flight", 0), seen["in_flight"])
        await asyncio.sleep(0.3)
        seen["in_flight"] -= 1
        return web.json_response({"job_id": "slow"}, status=202)

    app = web.Application()
    app.router.add_post("/jobs", accept)
    app.router.add_post("/slow/jobs", slow)
    app.router.add_post("/chunked", chunked)
    app.router.add_post("/closing", closing)
    app.router.add_post("/silent/jobs", silent)
    return app


def _steady(count: int, rate: float) -> Schedule:
    items = tuple(PlannedJob(offset_s=i / rate, kind="io", duration_ms=50) for i in range(count))
    return Schedule(items=items, duration_s=count / rate)


async def test_every_send_is_answered_on_warm_connections_with_its_timings_and_job_id(
    aiohttp_server: Any,
) -> None:
    # Given a real server that records each request's body and client address
    seen: dict[str, Any] = {"bodies": [], "peers": set()}
    server = await aiohttp_server(_app(seen))
    # When the generator sends 100 jobs at 100/s over 4 warm connections
    sends = await generate(
        f"http://127.0.0.1:{server.port}", "async", _steady(100, 100), timeout_s=5,
        warm_connections=4,
    )  # fmt: skip
    # Then every send was accepted, recorded in order with its timings and the job id,
    # none sent before its time (the dispatcher sleeps to the next millisecond, never short)
    assert [s.status for s in sends] == [202] * 100
    assert all(s.error is None and s.body and s.body["job_id"] for s in sends)
    assert all(s.intended <= s.sent + 0.0002 and s.answered and s.answered >= s.sent for s in sends)
    # the server received each job's pre-built body, and connections were reused (a send that
    # finds all 4 warm ones busy opens one more: on a starved machine, where this test's own
    # server shares the generator's loop, replies bunch up and 60-70 were seen; without reuse
    # there would be one connection per send)
    assert seen["bodies"][0] == {"mode": "async", "kind": "io", "duration_ms": 50}
    assert len(seen["bodies"]) == 100
    assert len(seen["peers"]) <= 90


async def test_a_send_that_finds_no_idle_connection_opens_one_and_is_still_answered(
    aiohttp_server: Any,
) -> None:
    # Given a real server and a generator with no warm connection at all
    seen: dict[str, Any] = {"bodies": [], "peers": set()}
    server = await aiohttp_server(_app(seen))
    # When it sends 10 jobs at once
    progress = Progress()
    sends = await generate(
        f"http://127.0.0.1:{server.port}", "async", _steady(10, 1e6), timeout_s=5,
        warm_connections=0, progress=progress,
    )  # fmt: skip
    # Then each was sent after opening a connection, counted as such, and answered
    assert [s.status for s in sends] == [202] * 10
    assert all(s.sent >= s.intended for s in sends)
    assert progress.connections_opened == 10
    assert (progress.sent, progress.answered, progress.errors) == (10, 10, 0)


async def test_chunked_and_closing_replies_are_read_and_the_closing_connection_is_not_reused(
    aiohttp_server: Any,
) -> None:
    # Given a real server with a chunked reply and a reply that closes the connection
    server = await aiohttp_server(_app({"bodies": [], "peers": set()}))
    chunked = Endpoint.from_url(f"http://127.0.0.1:{server.port}/chunked")
    closing = Endpoint.from_url(f"http://127.0.0.1:{server.port}/closing")
    connection = await Connection.open(chunked)
    # When one connection posts to both
    connection.write(build_post(chunked, b"{}"))
    first = await connection.read_reply()
    connection.write(build_post(closing, b"{}"))
    second = await connection.read_reply()
    connection.close()
    # Then the chunked body is whole and keeps the connection, and the closing reply does not
    assert (first.status, first.body, first.keep_alive) == (201, b'{"part":"two"}', True)
    assert (second.status, second.keep_alive) == (503, False)


async def test_a_send_never_answered_fails_with_a_timeout_and_the_run_still_ends(
    aiohttp_server: Any,
) -> None:
    # Given a real server that never answers
    server = await aiohttp_server(_app({"bodies": [], "peers": set()}))
    # When the generator sends 3 jobs with a 0.5 s timeout
    started = time.monotonic()
    sends = await generate(
        f"http://127.0.0.1:{server.port}/silent", "async", _steady(3, 100), timeout_s=0.5,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    # Then each send is recorded as sent and timed out, with no status, and the run ended
    # once the timeout had passed (not an hour later, not before it)
    assert [s.error for s in sends] == ["TimeoutError: "] * 3
    assert all(s.sent > 0 and s.status == 0 and s.answered is None for s in sends)
    assert 0.5 <= elapsed < 60


async def test_at_the_connection_cap_a_send_waits_in_order_for_a_freed_connection(
    aiohttp_server: Any,
) -> None:
    # Given a real server that takes 0.3 s per request
    seen: dict[str, Any] = {"bodies": [], "peers": set()}
    server = await aiohttp_server(_app(seen))
    # When the generator, capped at 3 connections, sends 9 jobs at once
    progress = Progress()
    sends = await generate(
        f"http://127.0.0.1:{server.port}/slow", "async", _steady(9, 1e6), timeout_s=30,
        warm_connections=0, progress=progress, max_connections=3,
    )  # fmt: skip
    # Then every send was answered, never more than 3 at once, and the 6 that waited each
    # went out only once an earlier reply had freed a connection, in their planned order
    assert [s.status for s in sends] == [202] * 9
    assert seen["most_in_flight"] <= 3
    assert (progress.connections_opened, progress.waited_for_connection) == (3, 6)
    first_reply = min(s.answered or 0.0 for s in sends[:3])
    assert all(s.sent >= first_reply for s in sends[3:])
    assert [s.sent for s in sends] == sorted(s.sent for s in sends)


async def test_a_send_that_waited_its_timeout_for_a_connection_fails_and_the_run_ends(
    aiohttp_server: Any,
) -> None:
    # Given a real server that never answers, and a generator capped at one connection
    server = await aiohttp_server(_app({"bodies": [], "peers": set()}))
    # When it sends 3 jobs at once with a 0.5 s timeout
    sends = await generate(
        f"http://127.0.0.1:{server.port}/silent", "async", _steady(3, 1e6), timeout_s=0.5,
        warm_connections=0, max_connections=1,
    )  # fmt: skip
    # Then the first timed out on its connection, and the two behind it timed out waiting
    # for one (never sent), and the run ended
    assert sends[0].sent > 0 and sends[0].error == "TimeoutError: "
    assert all(s.sent == 0 and s.error and "no connection free" in s.error for s in sends[1:])
