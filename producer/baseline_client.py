"""Forwarding sync jobs to the blocking baseline over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from jobs.spec import JobSpec


class BaselineUnavailable(Exception):
    """The baseline could not be reached, failed, or did not answer in time."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class BaselineReply:
    """The baseline's answer for one job."""

    result: dict[str, Any]
    started_at: float
    finished_at: float


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
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self._health_timeout = aiohttp.ClientTimeout(total=connect_timeout_s)

    async def run(self, spec: JobSpec, payload: str) -> BaselineReply:
        """Run ``spec`` on the baseline and return its result and timings."""
        body = orjson.dumps({**spec.to_dict(), "payload": payload})
        try:
            async with self._session.post(
                f"{self._url}/work",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=self._timeout,
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise BaselineUnavailable(
                "baseline_timeout",
                f"the sync baseline did not answer within {self._timeout.total:g} s",
            ) from exc
        except aiohttp.ClientError as exc:
            raise BaselineUnavailable(
                "baseline_unavailable", f"the sync baseline is unreachable: {exc}"
            ) from exc
        if status != 200:
            raise BaselineUnavailable(
                "baseline_error", f"the sync baseline answered HTTP {status}: {raw[:200]!r}"
            )
        try:
            data = orjson.loads(raw)
            timings = data["timings"]
            return BaselineReply(
                result=data["result"],
                started_at=float(timings["started_at"]),
                finished_at=float(timings["finished_at"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BaselineUnavailable(
                "baseline_error", f"the sync baseline sent an unreadable reply: {exc}"
            ) from exc

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
