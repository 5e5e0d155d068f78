"""Batched, non-blocking writes to Redis for job submissions.

Async jobs that arrive while a batch is in flight go together in the next one: a single
``EVALSHA`` of ``enqueue.lua`` checks the backlog limit, writes each job's record and
pushes its task message, so under load one round trip carries many jobs and the client does
one command's work per batch, not three per job. A job resolves only once Redis confirmed it:
a 202 is never sent for a job Redis did not take. Other writes (records of finished sync jobs)
ride along in the same pipeline, and their failure is only logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from burstlab.jobs.task_message import TaskMessage
from producer.backends.redis_connection import DedicatedConnection

log = logging.getLogger(__name__)

Command = tuple[str | bytes | int | float, ...]

ENQUEUE_SCRIPT = "enqueue.lua"
"""The Lua script (package data of :mod:`producer`) that records and queues a batch of jobs."""


def enqueue_script_source() -> str:
    """The text of :data:`ENQUEUE_SCRIPT`, from the checkout or an installed wheel alike."""
    return resources.files("producer.backends").joinpath(ENQUEUE_SCRIPT).read_text(encoding="utf-8")


def reason(exc: BaseException) -> str:
    """What went wrong, in words, for an error answer: the exception's message, or for one that
    carries none (a timeout, a dropped connection) what it was."""
    if str(exc):
        return str(exc)
    return "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__} (no detail)"


class BrokerUnavailable(Exception):
    """The broker (or the record store) did not take a submission in time; the job was not
    accepted."""


@dataclass(frozen=True, slots=True)
class Enqueue:
    """One async job to record and queue: its record key and fields, and its task message."""

    key: str
    fields: Sequence[str]
    """Field names and values, alternating."""
    task: TaskMessage


class JobPublisher(Protocol):
    """Takes async jobs to the broker (and other record writes to Redis)."""

    def start(self) -> None: ...

    async def close(self) -> None: ...

    async def enqueue(self, job: Enqueue) -> bool: ...

    def submit_background(self, commands: Sequence[Command]) -> None: ...


class Publisher:
    """Coalesces concurrent submissions into one round trip per batch."""

    def __init__(
        self,
        client: aioredis.Redis,
        timeout_s: float,
        *,
        queue: str,
        max_backlog: int = 0,
        record_ttl_s: int,
    ) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._queue = queue
        self._max_backlog = max_backlog
        self._record_ttl_s = record_ttl_s
        self._script = client.register_script(enqueue_script_source())
        self._jobs: list[tuple[Enqueue, asyncio.Future[bool]]] = []
        self._writes: list[tuple[Sequence[Command], asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection = DedicatedConnection(client)
        """Batches go on one connection of their own (one flush at a time uses it)."""

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
        if self._jobs or self._writes:
            await self._flush()
        self._task = None
        await self._connection.discard()

    async def enqueue(self, job: Enqueue) -> bool:
        """Record and queue ``job`` with the next batch.

        Returns False if the queue already held the backlog limit (nothing was written);
        raises :class:`BrokerUnavailable` if Redis did not confirm in time.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._jobs.append((job, future))
        self._wakeup.set()
        # No timer per request: every flush ends within the broker timeout, and a flush that
        # fails fails whatever queued up behind it too (see _flush).
        return await future

    async def write(self, commands: Sequence[Command]) -> None:
        """Send ``commands`` with the next batch and wait for Redis to take them.

        Raises :class:`BrokerUnavailable` if Redis refused one or did not answer in time."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writes.append((commands, future))
        self._wakeup.set()
        await future

    def submit_background(self, commands: Sequence[Command]) -> None:
        """Send ``commands`` with the next batch; a failure is logged, not raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_log_failure)
        self._writes.append((commands, future))
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._jobs or self._writes:
                await self._flush()

    def _script_command(self, jobs: list[tuple[Enqueue, asyncio.Future[bool]]]) -> list[bytes]:
        """The EVALSHA command's arguments for ``jobs``, as bytes."""
        keys = [self._queue.encode()]
        args = [b"%d" % self._max_backlog, b"%d" % self._record_ttl_s]
        for job, _ in jobs:
            keys.append(job.key.encode())
            args.append(b"%d" % (len(job.fields) // 2))
            args.extend(field.encode() for field in job.fields)
            args.append(job.task.redis_envelope(self._queue))
        return [b"EVALSHA", self._script.sha.encode(), b"%d" % len(keys), *keys, *args]

    async def _run_script(self, command: list[bytes]) -> list[int]:
        """Send the packed EVALSHA (no per-argument encoding by the client library); if Redis
        does not know the script, the registered script loads it."""
        connection = await self._connection.ready()
        reply: object
        try:
            await connection.send_packed_command(pack_resp(command))
            reply = await connection.read_response()
        except NoScriptError:
            reply = None  # the connection is fine; Redis only lacks the script
        except BaseException:
            await self._connection.discard()
            raise
        if reply is None:
            count = int(command[2])
            keys, args = command[3 : 3 + count], command[3 + count :]
            reply = await self._script(keys=keys, args=args)
        if isinstance(reply, Exception):
            raise reply
        assert isinstance(reply, list)
        return list(reply)

    async def _flush(self) -> None:
        jobs, self._jobs = self._jobs, []
        writes, self._writes = self._writes, []
        try:
            if jobs:
                async with asyncio.timeout(self._timeout_s):  # a timer, not a task
                    taken = await self._run_script(self._script_command(jobs))
                for (_, job_done), flag in zip(jobs, taken, strict=True):
                    if not job_done.done():
                        job_done.set_result(bool(flag))
                jobs = []
            if writes:
                pipe = self._client.pipeline(transaction=False)
                for commands, _ in writes:
                    for command in commands:
                        pipe.execute_command(*command)
                async with asyncio.timeout(self._timeout_s):
                    replies = await pipe.execute(raise_on_error=False)
                self._settle_writes(writes, replies)
        except (RedisError, OSError, TimeoutError) as exc:
            # Submissions that queued up behind a failed flush would most likely fail too:
            # answer them now rather than after another full timeout.
            jobs += self._jobs
            self._jobs = []
            self._fail(
                jobs, writes, BrokerUnavailable(f"the broker did not take the job: {reason(exc)}")
            )

    @staticmethod
    def _settle_writes(
        writes: list[tuple[Sequence[Command], asyncio.Future[None]]], replies: list[object]
    ) -> None:
        index = 0
        for commands, done in writes:
            mine = replies[index : index + len(commands)]
            index += len(commands)
            failures = [reply for reply in mine if isinstance(reply, Exception)]
            if done.done():
                continue
            if failures:
                done.set_exception(BrokerUnavailable(f"the broker refused a write: {failures[0]}"))
            else:
                done.set_result(None)

    @staticmethod
    def _fail(
        jobs: list[tuple[Enqueue, asyncio.Future[bool]]],
        writes: list[tuple[Sequence[Command], asyncio.Future[None]]],
        error: BrokerUnavailable,
    ) -> None:
        log.warning("publish of %d jobs and %d writes failed: %s", len(jobs), len(writes), error)
        futures: list[asyncio.Future[bool] | asyncio.Future[None]] = [f for _, f in jobs]
        futures.extend(f for _, f in writes)
        for future in futures:
            if not future.done():
                future.set_exception(error)


def pack_resp(args: list[bytes]) -> bytes:
    """Encode one Redis command in RESP: ``*N`` then ``$len`` and each argument."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
    return b"".join(parts)


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("background write failed: %s", future.exception())
