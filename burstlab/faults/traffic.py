"""Traffic for fault scenarios: bursts and open-loop streams of jobs, every answer recorded.

Unlike :mod:`burstlab.client`, nothing here raises for an error answer: a refusal, a timeout
and a dropped connection are all recorded as an :class:`Answer`, because they are what a
fault scenario measures.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import orjson

from burstlab.client import job_body

T = TypeVar("T")


@dataclass
class Answer:
    """One request: when it went, how long its answer took, what it was."""

    sent_at: float
    latency_s: float
    status: int
    """HTTP status; 0 when no answer came (connection error, client timeout)."""
    body: dict[str, Any] | None
    """The decoded JSON object, or ``None`` when the answer was not one."""

    @property
    def job_id(self) -> str | None:
        return str(self.body["job_id"]) if self.body and "job_id" in self.body else None


def job(mode: str, duration_ms: float, kind: str = "io") -> dict[str, Any]:
    """The ``POST /jobs`` body of one job (see :func:`burstlab.client.job_body`)."""
    return job_body(mode, kind, duration_ms)


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, timeout: aiohttp.ClientTimeout
) -> Answer:
    sent = time.time()
    started = time.perf_counter()
    try:
        async with session.post(
            url, data=body, headers={"Content-Type": "application/json"}, timeout=timeout
        ) as response:
            raw = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError):
        return Answer(sent, time.perf_counter() - started, 0, None)
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        decoded = None
    body_json = decoded if isinstance(decoded, dict) else None
    return Answer(sent, time.perf_counter() - started, status, body_json)


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=False))


async def burst(
    producer_url: str, spec: dict[str, Any], count: int, timeout_s: float = 30.0
) -> list[Answer]:
    """Send ``count`` copies of ``spec`` at once (at most 64 requests open at a time)."""
    body = orjson.dumps(spec)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    gate = asyncio.Semaphore(64)
    async with _session() as session:

        async def one() -> Answer:
            async with gate:
                return await _post(session, f"{producer_url}/jobs", body, timeout)

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def stream(
    producer_url: str,
    spec: dict[str, Any],
    rate_per_s: float,
    duration_s: float,
    timeout_s: float = 60.0,
    until: threading.Event | None = None,
) -> list[Answer]:
    """Send ``spec`` at ``rate_per_s`` for ``duration_s`` (or until ``until`` is set), open
    loop: every request goes at its time whatever the answers, each as its own task."""
    body = orjson.dumps(spec)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    loop = asyncio.get_running_loop()
    count = int(rate_per_s * duration_s)
    async with _session() as session:
        start = loop.time()
        tasks = []
        for index in range(count):
            if until is not None and until.is_set():
                break
            delay = start + index / rate_per_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_post(session, f"{producer_url}/jobs", body, timeout)))
        return list(await asyncio.gather(*tasks))


async def get_json(url: str, timeout_s: float = 5.0) -> Answer:
    """``GET url`` as an :class:`Answer`."""
    sent = time.time()
    started = time.perf_counter()
    async with _session() as session:
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as r:
                raw = await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            return Answer(sent, time.perf_counter() - started, 0, None)
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        decoded = None
    return Answer(
        sent, time.perf_counter() - started, status, decoded if isinstance(decoded, dict) else None
    )


class Background:
    """Run a coroutine on its own event loop in a thread; :meth:`result` waits for it."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(coroutine,), daemon=True)
        self._thread.start()

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        try:
            self._result = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the caller
            self._error = exc

    def result(self, timeout_s: float = 600.0) -> Any:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError("the traffic did not finish in time")
        if self._error is not None:
            raise self._error
        return self._result


def accepted_ids(answers: list[Answer], status: int) -> list[str]:
    """The job ids of the answers with ``status`` (202 for async, 200 for sync)."""
    return [a.job_id for a in answers if a.status == status and a.job_id]


def unanswered(answers: list[Answer]) -> int:
    """Requests that got no JSON answer (no answer at all, or not JSON)."""
    return sum(1 for a in answers if a.status == 0 or a.body is None)


def refused(answers: list[Answer]) -> int:
    """Requests refused with a JSON 503 or 429 (not accepted; the client may retry)."""
    return sum(1 for a in answers if a.status in (429, 503) and a.body is not None)
