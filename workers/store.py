"""The worker's writes to a job's record: running, then succeeded or failed."""

from __future__ import annotations

import os
import time
from typing import Any

import orjson
import redis

from burstlab.jobs.names import FINISHED_COUNTER_KEY, JOB_EVENTS_CHANNEL, job_key
from burstlab.jobs.record import RECORD_TTL_S, encode_fields


class JobStore:
    """Writes job status to Redis; one client per process, made after fork."""

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url
        self._client: redis.Redis | None = None
        self._pid = 0

    @property
    def client(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            self._client = redis.Redis.from_url(
                self._redis_url, socket_connect_timeout=2, socket_timeout=5
            )
            self._pid = os.getpid()
        return self._client

    def _write(
        self,
        job_id: str,
        fields: dict[str, Any],
        *,
        count_attempt: bool = False,
        finished: bool = False,
        event: dict[str, Any] | None = None,
    ) -> None:
        pipe = self.client.pipeline(transaction=False)
        key = job_key(job_id)
        pipe.hset(key, mapping=encode_fields(fields))  # type: ignore[arg-type]
        if count_attempt:
            pipe.hincrby(key, "attempts", 1)
        if finished:
            pipe.incr(FINISHED_COUNTER_KEY)
        pipe.expire(key, RECORD_TTL_S)
        message = job_id if event is None else orjson.dumps({"job_id": job_id, **event})
        pipe.publish(JOB_EVENTS_CHANNEL, message)
        pipe.execute()

    def mark_running(self, job_id: str, base: dict[str, Any]) -> float:
        """Record that the job started here (``base`` restores a record that expired).

        Returns the start time written (epoch seconds).
        """
        started_at = time.time()
        fields = {**base, "status": "running", "started_at": started_at, "worker_pid": os.getpid()}
        self._write(job_id, fields, count_attempt=True)
        return started_at

    def mark_finished(self, job_id: str, fields: dict[str, Any], event: dict[str, Any]) -> None:
        """Record the final status, result and timings; publish ``event`` with the job id.

        The running event carries the bare job id; the final one is a JSON object with the
        status and timings, so the producer can time the job without reading its record.
        """
        self._write(job_id, fields, finished=True, event=event)
