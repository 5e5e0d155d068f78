"""Forwarding sync jobs to the blocking baseline over HTTP."""

from __future__ import annotations

import asyncio
import urllib.parse
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from burstlab.jobs.payloads import Payload
from burstlab.jobs.record import FINAL_STATUSES, SUCCEEDED
from burstlab.jobs.spec import JobSpec


class BaselineUnavailable(Exception):
    """The baseline could not be reached, failed, or did not answer in time."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class BaselineReply:
    """The baseline's answer for one job."""

    result: dict[str, Any] | None
    started_at: float
    finished_at: float
    status: str = SUCCEEDED
    """``failed`` when the job ran and raised (a user's task can): its outcome, with ``error``."""
    error: str | None = None
    worker: str | None = None
    """The baseline process that ran it, as ``pid@host`` (None from an endpoint that does not
    say)."""


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


class BaselineClient:
    """Posts jobs to the baseline's ``/work`` and checks its ``/healthz``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        timeout_s: float,
        connect_timeout_s: float,
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/")
        parsed = urllib.parse.urlsplit(self._url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"the baseline URL must be http://host[:port], got {base_url!r}")
        self._host = parsed.hostname
        self._port = parsed.port or 80
        self._request_head = (
            f"POST {parsed.path}/work HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
            "Content-Type: application/json\r\nConnection: close\r\nContent-Length: "
        ).encode()
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self._health_timeout = aiohttp.ClientTimeout(total=connect_timeout_s)

    async def run(self, spec: JobSpec, payload: str, call: Payload | None = None) -> BaselineReply:
        """Run ``spec`` on the baseline and return its result and timings.

        ``call`` is the user's task's arguments for a ``task`` job.
        """
        fields: dict[str, Any] = {**spec.to_dict(), "payload": payload}
        if call is not None:
            fields["call"] = call.to_dict()
        body = orjson.dumps(fields)
        try:
            async with asyncio.timeout(self._timeout.total):
                status, raw = await self._post_work(body)
        except TimeoutError as exc:
            raise BaselineUnavailable(
                "baseline_timeout",
                f"the sync baseline did not answer within {self._timeout.total:g} s",
            ) from exc
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise BaselineUnavailable(
                "baseline_unavailable", f"the sync baseline is unreachable: {exc}"
            ) from exc
        except ValueError as exc:
            raise BaselineUnavailable(
                "baseline_error", f"the sync baseline sent an unreadable reply: {exc}"
            ) from exc
        if status != 200:
            raise BaselineUnavailable(
                "baseline_error", f"the sync baseline answered HTTP {status}: {raw[:200]!r}"
            )
        try:
            data = orjson.loads(raw)
            timings = data["timings"]
            status = data.get("status", SUCCEEDED)
            if status not in FINAL_STATUSES:
                raise ValueError(f"unknown status {status!r}")
            return BaselineReply(
                result=data["result"],
                started_at=float(timings["started_at"]),
                finished_at=float(timings["finished_at"]),
                status=status,
                error=data.get("error"),
                worker=data.get("worker") if isinstance(data.get("worker"), str) else None,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BaselineUnavailable(
                "baseline_error", f"the sync baseline sent an unreadable reply: {exc}"
            ) from exc

    async def _post_work(self, body: bytes) -> tuple[int, bytes]:
        """``POST /work`` over a connection of its own (gunicorn's sync workers close every
        connection after one request, so a pooling HTTP client would only add work)."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self._host, self._port), self._timeout.sock_connect
        )
        try:
            writer.write(self._request_head + b"%d\r\n\r\n" % len(body) + body)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = _content_length(head)
            raw = await (reader.readexactly(length) if length is not None else reader.read())
            return status, raw
        finally:
            writer.close()

    async def check(self) -> str | None:
        """Return ``None`` if the baseline is healthy, else why not."""
        try:
            async with self._session.get(
                f"{self._url}/healthz", timeout=self._health_timeout
            ) as response:
                if response.status == 200:
                    return None
                return f"healthz answered HTTP {response.status}"
        except TimeoutError:
            return "healthz timed out"
        except aiohttp.ClientError as exc:
            return f"unreachable: {exc}"
