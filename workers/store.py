"""The worker's writes to a job's record: running, then succeeded or failed.

The fields come from :mod:`burstlab.jobs.record` and the events from
:mod:`burstlab.jobs.events`; the worker writes only what it learned by running the job.
"""

from __future__ import annotations

import os
import socket
import time
from functools import cache
from importlib.resources import files

import redis
from redis.commands.core import Script

from burstlab.jobs.events import FinalEvent, encode_final, encode_started
from burstlab.jobs.names import (
    FINISHED_COUNTER_KEY,
    JOB_EVENTS_CHANNEL,
    WORKER_READY_TTL_S,
    job_key,
    worker_ready_key,
)
from burstlab.jobs.record import RECORD_TTL_S, finished_fields, flat, running_fields

ScriptArg = str | bytes | int | float


@cache
def _script_source(name: str) -> str:
    return (files("workers") / "lua" / f"{name}.lua").read_text()


class AlreadyFinished(Exception):
    """The job's record already holds its outcome: this delivery is a duplicate, not a run."""


class JobStore:
    """Writes job status to Redis; one client per process, made after fork."""

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url
        self._client: redis.Redis | None = None
        self._pid = 0
        self._host = socket.gethostname()
        self._scripts: dict[str, Script] = {}

    @property
    def client(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            self._client = redis.Redis.from_url(
                self._redis_url, socket_connect_timeout=2, socket_timeout=5
            )
            self._pid = os.getpid()
            self._scripts = {}
        return self._client

    @property
    def worker(self) -> str:
        """This process, as ``pid@host``."""
        return f"{os.getpid()}@{self._host}"

    def mark_worker_ready(self, node: str, at: float) -> None:
        """Record that the worker ``node`` started consuming at ``at`` (epoch seconds)."""
        self.client.set(worker_ready_key(node), repr(at), ex=WORKER_READY_TTL_S)

    def _run(self, script: str, keys: list[str], args: list[ScriptArg]) -> object:
        """Run one of ``workers/lua``'s scripts (EVALSHA, loading it on first use)."""
        client = self.client
        if script not in self._scripts:
            self._scripts[script] = client.register_script(_script_source(script))
        return self._scripts[script](keys=keys, args=args)

    def mark_running(self, job_id: str, started_at: float | None = None) -> float:
        """Record that the job started here (now, or at ``started_at`` when it is known from
        elsewhere, e.g. an event); return the start time written (epoch seconds).

        Raises :class:`AlreadyFinished` (and counts a duplicate) if the job already ended: a
        duplicate delivery of a finished job is not run again.
        """
        started_at = time.time() if started_at is None else started_at
        fields = running_fields(started_at, self.worker)
        args: list[ScriptArg] = [RECORD_TTL_S, JOB_EVENTS_CHANNEL, encode_started(job_id)]
        args += flat(fields)
        if not self._run("start_job", [job_key(job_id)], args):
            raise AlreadyFinished(job_id)
        return started_at

    def mark_finished(
        self,
        job_id: str,
        status: str,
        started_at: float | None,
        finished_at: float,
        *,
        result: object = None,
        error: str | None = None,
    ) -> bool:
        """Record the outcome, result and timings; publish the job's final event.

        Returns ``False`` (and records nothing but a duplicate) if a run of the job already
        succeeded: a second run never overwrites the first success.

        The start event is the bare job id; the final one carries the outcome and timings, so
        the producer times the job without reading its record.
        """
        fields = finished_fields(
            status, finished_at, started_at=started_at, result=result, error=error
        )
        event = encode_final(FinalEvent(job_id, status, started_at, finished_at, self.worker))
        args: list[ScriptArg] = [RECORD_TTL_S, JOB_EVENTS_CHANNEL, event]
        args += flat(fields)
        recorded = self._run("finish_job", [job_key(job_id), FINISHED_COUNTER_KEY], args)
        return bool(recorded)
