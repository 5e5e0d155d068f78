"""Detect a worker that stopped consuming (a known Celery failure after a broker reconnect).

From a thread of the worker's main process, every few seconds: are jobs waiting in the queue
while this worker has a free pool process and has received nothing? If that holds for the
whole stall timeout, the worker logs why and shuts down (warm, then hard after a grace
period), so its supervisor (the local stack, or compose's ``restart: unless-stopped``)
starts a fresh one that consumes again.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from burstlab.jobs.names import priority_queue_names

log = logging.getLogger(__name__)

STALL_EXIT_CODE = 75
"""Exit code of a worker the watchdog ended (EX_TEMPFAIL: try again)."""


@dataclass
class Sample:
    """One look at the worker: jobs waiting, jobs it holds, jobs received so far."""

    queued: int | None
    reserved: int
    received: int


class ConsumptionWatchdog:
    """Ends the worker when it holds free slots while jobs wait and nothing arrives."""

    def __init__(
        self,
        redis_url: str,
        queue: str,
        concurrency: int,
        stall_timeout_s: float,
        reserved: Callable[[], int],
        *,
        interval_s: float = 2.0,
        grace_s: float = 30.0,
        exit_process: Callable[[], None] | None = None,
    ) -> None:
        self._client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._queues = priority_queue_names(queue)
        self._concurrency = concurrency
        self._stall_timeout_s = stall_timeout_s
        self._reserved = reserved
        self._interval_s = interval_s
        self._grace_s = grace_s
        self._exit_process = exit_process or _shut_down_this_process
        self._received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="burstlab-watchdog", daemon=True)
        self.stalled_since: float | None = None

    def on_task_received(self, **_: object) -> None:
        """Count a task this worker received (connect to Celery's ``task_received``)."""
        self._received += 1

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()

    def sample(self) -> Sample:
        """Read the queue length and this worker's reserved jobs now."""
        try:
            pipe = self._client.pipeline(transaction=False)
            for name in self._queues:
                pipe.llen(name)
            queued: int | None = sum(pipe.execute())
        except redis.RedisError:
            queued = None  # the broker is away: that is not a stall of this worker
        return Sample(queued, self._reserved(), self._received)

    def check(self, sample: Sample, now: float, last: Sample | None) -> bool:
        """Update the stall state with ``sample``; return whether the worker is stalled."""
        starved = (
            sample.queued is not None
            and sample.queued > 0
            and sample.reserved < self._concurrency
            and last is not None
            and sample.received == last.received
        )
        if not starved:
            self.stalled_since = None
            return False
        if self.stalled_since is None:
            self.stalled_since = now
        return now - self.stalled_since >= self._stall_timeout_s

    def _run(self) -> None:
        last: Sample | None = None
        while not self._stop.wait(self._interval_s):
            sample = self.sample()
            if self.check(sample, time.monotonic(), last):
                log.error(
                    "worker stopped consuming: %s jobs queued, %d of %d pool processes idle, "
                    "nothing received for %.0f s; shutting down so it is restarted",
                    sample.queued,
                    self._concurrency - sample.reserved,
                    self._concurrency,
                    self._stall_timeout_s,
                )
                self._exit_process()
                if not self._stop.wait(self._grace_s):
                    log.error("worker did not stop within %.0f s; exiting", self._grace_s)
                    os._exit(STALL_EXIT_CODE)
                return
            last = sample


def _shut_down_this_process() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # Celery's warm shutdown: unacked jobs go back
