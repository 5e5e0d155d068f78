"""Batched, non-blocking writes to Redis for job submissions.

Each submission is a short list of Redis commands (record the job, push its task message).
Submissions that arrive while a batch is in flight are sent together in the next pipeline,
so under load one round trip carries many jobs. A submission resolves only once Redis
confirmed every one of its commands: a 202 is never sent for a job Redis did not take.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Command = tuple[str | bytes | int | float, ...]


class BrokerUnavailable(Exception):
    """Redis did not take a submission in time; the job was not accepted."""


class Publisher:
    """Coalesces concurrent submissions into pipelined round trips."""

    def __init__(self, client: aioredis.Redis, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._pending: list[tuple[Sequence[Command], asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background flusher (call inside the running loop)."""
        self._task = asyncio.create_task(self._run(), name="burstlab-publisher")

    async def close(self) -> None:
        """Flush what is pending, then stop the flusher."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._pending:
            await self._flush()
        self._task = None

    async def submit(self, commands: Sequence[Command]) -> None:
        """Send ``commands`` with the next batch; raise :class:`BrokerUnavailable` on failure."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((commands, future))
        self._wakeup.set()
        await asyncio.wait_for(asyncio.shield(future), self._timeout_s + 0.5)

    def submit_background(self, commands: Sequence[Command]) -> None:
        """Send ``commands`` with the next batch; a failure is logged, not raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_log_failure)
        self._pending.append((commands, future))
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._pending:
                await self._flush()

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        pipe = self._client.pipeline(transaction=False)
        for commands, _ in batch:
            for command in commands:
                pipe.execute_command(*command)
        try:
            replies = await asyncio.wait_for(pipe.execute(raise_on_error=False), self._timeout_s)
        except (RedisError, OSError, TimeoutError) as exc:
            error = BrokerUnavailable(f"the broker did not take the job: {exc or 'timed out'}")
            log.warning("publish of %d submissions failed: %s", len(batch), exc or "timeout")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        index = 0
        for commands, future in batch:
            mine = replies[index : index + len(commands)]
            index += len(commands)
            failures = [reply for reply in mine if isinstance(reply, Exception)]
            if future.done():
                continue
            if failures:
                future.set_exception(
                    BrokerUnavailable(f"the broker refused the job: {failures[0]}")
                )
            else:
                future.set_result(None)


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("background write failed: %s", future.exception())
