"""The one client of the producer's HTTP API: :class:`ProducerClient` for asyncio code (aiohttp),
:class:`Producer` for blocking code (stdlib ``urllib``), with the same methods.

Every failed call raises :class:`ProducerError`: ``status``, ``error`` and ``detail`` come from
the producer's JSON error body; a producer that does not answer raises the subclass
:class:`ProducerUnreachable` (``status`` 0). Timed, open-loop senders (the load generator,
fault traffic) keep their own pre-encoded requests and use :func:`encode_job` for the body.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable
from typing import Any, Generic, TypeVar

import aiohttp
import orjson

from burstlab.jobs.experiment_context import ExperimentContext, StepContext
from burstlab.jobs.names import MAX_LOOKUP_IDS
from burstlab.jobs.record import FINAL_STATUSES

MAX_WAIT_S = 60.0
"""The longest single long poll the producer accepts (``GET /jobs/{id}?wait=``)."""
DEFAULT_TIMEOUT_S = 30.0
_JSON = {"Content-Type": "application/json"}
R = TypeVar("R")

Job = dict[str, Any]
"""A job's public view (``GET /jobs/{id}``), a submit's answer, or a sync job's result."""


class ProducerError(Exception):
    """The producer refused a request (``status`` >= 400), or did not answer (``status`` 0)."""

    def __init__(self, status: int, error: str, detail: str, body: dict[str, Any] | None = None):
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.body = body or {}

    @property
    def field(self) -> str | None:
        """The request field at fault, when the producer named one."""
        field = self.body.get("field")
        return field if isinstance(field, str) else None


class ProducerUnreachable(ProducerError):
    """No answer: connection refused or reset, or the client's timeout passed."""

    def __init__(self, detail: str) -> None:
        super().__init__(0, "unreachable", detail)


def job_body(
    mode: str,
    kind: str = "io",
    duration_ms: float = 0,
    payload_bytes: int = 0,
    *,
    payload_line: int | None = None,
) -> Job:
    """The ``POST /jobs`` body of one job (``payload_line``: a task job's line of the payloads)."""
    body: Job = {"mode": mode, "kind": kind, "duration_ms": duration_ms}
    if payload_bytes:
        body["payload_bytes"] = payload_bytes
    if payload_line is not None:
        body["payload_line"] = payload_line
    return body


def encode_job(
    mode: str,
    kind: str = "io",
    duration_ms: float = 0,
    payload_bytes: int = 0,
    *,
    payload_line: int | None = None,
) -> bytes:
    """:func:`job_body` as JSON bytes, for senders that encode once and post many times."""
    return orjson.dumps(job_body(mode, kind, duration_ms, payload_bytes, payload_line=payload_line))


def decode_answer(status: int, raw: bytes) -> Any:
    """The decoded JSON of an answer; :class:`ProducerError` for an error status."""
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    if status < 400:
        if body is None:
            raise ProducerError(status, "invalid_answer", f"not JSON: {raw[:200]!r}")
        return body
    if isinstance(body, dict):
        error, detail = str(body.get("error", "http_error")), str(body.get("detail", ""))
        raise ProducerError(status, error, detail, body)
    raise ProducerError(status, "http_error", raw[:200].decode(errors="replace"))


def context_body(
    scenario: str, mode: str, workers: int, phase: str, step: StepContext | None = None
) -> bytes:
    """The JSON body of ``PUT /experiment`` for this phase.

    Validated here as well, so a bad label fails in the caller with ContextError (ValueError)."""
    return orjson.dumps(ExperimentContext.of(scenario, mode, workers, phase, step).to_body())


def _chunks(job_ids: list[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(job_ids))
    return [unique[i : i + MAX_LOOKUP_IDS] for i in range(0, len(unique), MAX_LOOKUP_IDS)]


def _poll_s(deadline: float) -> float:
    return max(0.0, min(MAX_WAIT_S, deadline - time.monotonic()))


class _Calls(Generic[R]):
    """The calls that are one request and its decoded answer, written once for both clients.

    ``R`` is what :meth:`request` returns: the decoded JSON for :class:`Producer`, an awaitable
    of it for :class:`ProducerClient` (so ``await client.submit(...)`` there).
    """

    timeout_s: float

    def request(
        self, method: str, path: str, body: bytes | None = None, *, timeout_s: float | None = None
    ) -> R:
        raise NotImplementedError

    def submit(
        self,
        mode: str,
        kind: str = "io",
        duration_ms: float = 0,
        payload_bytes: int = 0,
        *,
        payload_line: int | None = None,
    ) -> R:
        """``POST /jobs``: a sync job's result (it ran), or an async job's ``queued`` answer."""
        body = encode_job(mode, kind, duration_ms, payload_bytes, payload_line=payload_line)
        return self.request("POST", "/jobs", body)

    def get_job(self, job_id: str, wait_s: float = 0.0) -> R:
        """``GET /jobs/{id}``; with ``wait_s``, one long poll that answers once the job is final."""
        path = f"/jobs/{urllib.parse.quote(job_id, safe='')}"
        if wait_s > 0:
            path += f"?wait={min(wait_s, MAX_WAIT_S):.3f}"
        return self.request("GET", path, timeout_s=wait_s + self.timeout_s)

    def queue(self, timeout_s: float | None = None) -> R:
        """``GET /queue``: async ``queued``, ``reserved``, ``backlog``, ``finished_total``, and
        ``sync``: ``{"waiting", "in_flight", "backlog"}`` held by the producer."""
        return self.request("GET", "/queue", timeout_s=timeout_s)

    def set_phase(
        self,
        *,
        scenario: str,
        mode: str,
        workers: int,
        phase: str,
        step: StepContext | None = None,
        timeout_s: float = 2.0,
    ) -> R:
        """``PUT /experiment``: the phase starting now (``burst`` also marks a burst active);
        ``step``: the sweep step it belongs to (rho, offered rate, SLO)."""
        body = context_body(scenario, mode, workers, phase, step)
        return self.request("PUT", "/experiment", body, timeout_s=timeout_s)

    def clear_phase(self, *, timeout_s: float = 2.0) -> R:
        """``DELETE /experiment``: no experiment runs any more."""
        return self.request("DELETE", "/experiment", timeout_s=timeout_s)


class ProducerClient(_Calls[Awaitable[Any]]):
    """The producer's API for asyncio code, on an aiohttp session (its own, or one passed in)."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = session
        self._owns_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session requests go through (created on first use if none was passed)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ProducerClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Any:
        """Send one request; return its decoded JSON or raise :class:`ProducerError`."""
        timeout = aiohttp.ClientTimeout(total=timeout_s or self.timeout_s)
        headers = _JSON if body is not None else None
        try:
            async with self.session.request(
                method, self.base_url + path, data=body, headers=headers, timeout=timeout
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ProducerUnreachable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        return decode_answer(status, raw)

    async def wait(self, job_id: str, timeout_s: float = MAX_WAIT_S) -> Job:
        """Long-poll until the job is final or ``timeout_s`` passes; return its last view."""
        deadline = time.monotonic() + timeout_s
        while True:
            view = await self.get_job(job_id, _poll_s(deadline))
            if view.get("status") in FINAL_STATUSES or _poll_s(deadline) <= 0:
                return view

    async def run(
        self,
        mode: str,
        kind: str = "io",
        duration_ms: float = 0,
        payload_bytes: int = 0,
        *,
        timeout_s: float = MAX_WAIT_S,
        payload_line: int | None = None,
    ) -> Job:
        """Submit a job and return its final view (sync: its answer; async: after :meth:`wait`)."""
        reply = await self.submit(mode, kind, duration_ms, payload_bytes, payload_line=payload_line)
        if reply.get("status") == "queued":
            return await self.wait(reply["job_id"], timeout_s)
        return reply

    async def lookup(self, job_ids: list[str]) -> dict[str, Job]:
        """``POST /jobs/lookup`` in chunks of the producer's limit: the found jobs by id."""
        found: dict[str, Job] = {}
        for chunk in _chunks(job_ids):
            reply = await self.request("POST", "/jobs/lookup", orjson.dumps({"job_ids": chunk}))
            found.update((job["job_id"], job) for job in reply["jobs"])
        return found

    async def ready(self) -> bool:
        """Whether ``GET /readyz`` answers 200 (broker and baseline reachable)."""
        try:
            await self.request("GET", "/readyz")
        except ProducerError:
            return False
        return True

    async def experiment(self) -> dict[str, Any] | None:
        """``GET /experiment``: the current experiment context, or ``None``."""
        view = await self.request("GET", "/experiment")
        context: dict[str, Any] | None = view["context"]
        return context


class Producer(_Calls[Any]):
    """The producer's API for blocking code (one connection per call, stdlib only)."""

    def __init__(self, base_url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def request(
        self, method: str, path: str, body: bytes | None = None, *, timeout_s: float | None = None
    ) -> Any:
        """Send one request; return its decoded JSON or raise :class:`ProducerError`."""
        request = urllib.request.Request(
            self.base_url + path, data=body, method=method, headers=_JSON if body else {}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s or self.timeout_s) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
            exc.close()
        except (urllib.error.URLError, OSError) as exc:  # TimeoutError is an OSError
            raise ProducerUnreachable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        return decode_answer(status, raw)

    def wait(self, job_id: str, timeout_s: float = MAX_WAIT_S) -> Job:
        """See :meth:`ProducerClient.wait`."""
        deadline = time.monotonic() + timeout_s
        while True:
            view = self.get_job(job_id, _poll_s(deadline))
            if view.get("status") in FINAL_STATUSES or _poll_s(deadline) <= 0:
                return view

    def run(
        self,
        mode: str,
        kind: str = "io",
        duration_ms: float = 0,
        payload_bytes: int = 0,
        *,
        timeout_s: float = MAX_WAIT_S,
    ) -> Job:
        """See :meth:`ProducerClient.run`."""
        reply = self.submit(mode, kind, duration_ms, payload_bytes)
        if reply.get("status") == "queued":
            return self.wait(reply["job_id"], timeout_s)
        return reply

    def lookup(self, job_ids: list[str]) -> dict[str, Job]:
        """See :meth:`ProducerClient.lookup`."""
        found: dict[str, Job] = {}
        for chunk in _chunks(job_ids):
            reply = self.request("POST", "/jobs/lookup", orjson.dumps({"job_ids": chunk}))
            found.update((job["job_id"], job) for job in reply["jobs"])
        return found

    def ready(self) -> bool:
        """See :meth:`ProducerClient.ready`."""
        try:
            self.request("GET", "/readyz")
        except ProducerError:
            return False
        return True

    def experiment(self) -> dict[str, Any] | None:
        """See :meth:`ProducerClient.experiment`."""
        view = self.request("GET", "/experiment")
        context: dict[str, Any] | None = view["context"]
        return context
