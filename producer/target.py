"""The producer's side of a task target: the user's task name and its payloads, in order.

A ``task`` job takes the next payload of the file (cycled); the async side sends it as the
user's own Celery message (their task name, their queue, JSON), the sync side hands it to the
baseline, which calls the task's function, or posts it to the user's own blocking endpoint.
"""

from __future__ import annotations

import time

import aiohttp

from burstlab.jobs.payloads import Payload, read_payloads
from burstlab.jobs.record import FAILED
from burstlab.jobs.target import TaskTarget
from producer.backends.baseline_client import BaselineReply, BaselineUnavailable


class TaskPayloads:
    """The target's payloads, handed out one per job in file order, round and round."""

    def __init__(self, target: TaskTarget) -> None:
        self.target = target
        self.task = target.task
        self._payloads = read_payloads(target.payloads)
        self._next = 0

    def __len__(self) -> int:
        return len(self._payloads)

    def take(self, line: int | None = None) -> Payload:
        """Payload ``line`` (0-based), else the next in turn (the event loop is the only caller:
        no lock needed). A line asked for leaves the turn where it was; past the last line is
        IndexError."""
        if line is not None:
            if line >= len(self._payloads):
                raise IndexError(line)
            return self._payloads[line]
        payload = self._payloads[self._next]
        self._next = (self._next + 1) % len(self._payloads)
        return payload


async def post_to_endpoint(
    session: aiohttp.ClientSession, url: str, payload: Payload, timeout_s: float
) -> BaselineReply:
    """The sync side on the user's own blocking endpoint (``--sync-url``): POST the payload as
    JSON and time the answer. A 2xx is a success, any other answer the job's failure (its status
    and the start of its body); no answer at all is :class:`BaselineUnavailable`."""
    started_at = time.time()
    try:
        async with session.post(
            url, json=payload.to_dict(), timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            text = await response.text(errors="replace")
            status = response.status
    except TimeoutError as exc:
        raise BaselineUnavailable(
            "baseline_timeout", f"{url} did not answer within {timeout_s:g} s"
        ) from exc
    except aiohttp.ClientError as exc:
        raise BaselineUnavailable("baseline_unavailable", f"{url} is unreachable: {exc}") from exc
    finished_at = time.time()
    if 200 <= status < 300:
        return BaselineReply({"http_status": status}, started_at, finished_at)
    return BaselineReply(
        {"http_status": status},
        started_at,
        finished_at,
        status=FAILED,
        error=f"HTTP {status}: {text[:500]}",
    )
