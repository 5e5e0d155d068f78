"""The worker's writes to a job's record: running, then succeeded or failed.

The fields come from :mod:`burstlab.jobs.record` and the events from
:mod:`burstlab.jobs.events`; the worker writes only what it learned by running the job.
"""

from __future__ import annotations

import os
import socket
import time

import redis

from burstlab.jobs.events import FinalEvent, encode_final, encode_started
from burstlab.jobs.names import FINISHED_COUNTER_KEY, JOB_EVENTS_CHANNEL, job_key
from burstlab.jobs.record import ATTEMPTS, RECORD_TTL_S, finished_fields, running_fields


class JobStore:
    """Writes job status to Redis; one client per process, made after fork."""

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url
        self._client: redis.Redis | None = None
        self._pid = 0
        self._host = socket.gethostname()

    @property
    def client(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            self._client = redis.Redis.from_url(
                self._redis_url, socket_connect_timeout=2, socket_timeout=5
            )
            self._pid = os.getpid()
        return self._client

    @property
    def worker(self) -> str:
        """This process, as ``pid@host``."""
        return f"{os.getpid()}@{self._host}"

    def _write(self, job_id: str, fields: dict[str, str], *, started: bool, event: bytes) -> None:
        pipe = self.client.pipeline(transaction=False)
        key = job_key(job_id)
        pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
        if started:
            pipe.hincrby(key, ATTEMPTS, 1)
        else:
            pipe.incr(FINISHED_COUNTER_KEY)
        pipe.expire(key, RECORD_TTL_S)
        pipe.publish(JOB_EVENTS_CHANNEL, event)
        pipe.execute()

    def mark_running(self, job_id: str) -> float:
        """Record that the job started here; return the start time written (epoch seconds)."""
        started_at = time.time()
        fields = running_fields(started_at, self.worker)
        self._write(job_id, fields, started=True, event=encode_started(job_id))
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
    ) -> None:
        """Record the outcome, result and timings; publish the job's final event.

        The start event is the bare job id; the final one carries the outcome and timings, so
        the producer times the job without reading its record.
        """
        fields = finished_fields(
            status, finished_at, started_at=started_at, result=result, error=error
        )
        event = FinalEvent(job_id, status, started_at, finished_at, self.worker)
        self._write(job_id, fields, started=False, event=encode_final(event))
