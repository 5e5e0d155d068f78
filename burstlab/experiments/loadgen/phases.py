"""Tell the producer which phase a run is in, so Prometheus and Grafana show when bursts hit.

Phases of one run: ``probe`` (measuring S), ``load`` (the schedule is being sent), ``burst``
(inside the scenario's burst window), ``drain`` (sending is over, work is still finishing);
the context is cleared when the run ends. A rho sweep's step is ``warmup`` then ``step`` (its
measured part) then ``drain``, each announced with the step's rho, offered rate and SLO, so
recording rules can give per-step throughput and latency. A producer that does not know
``/experiment`` (or is unreachable for a moment) costs a logged warning, never the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time

from burstlab.client import ProducerClient, ProducerError, context_body
from burstlab.experiments.loadgen.rawhttp import (
    Connection,
    Endpoint,
    HttpError,
    Reply,
    build_request,
)
from burstlab.jobs.experiment_context import StepContext

log = logging.getLogger(__name__)
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")

OPEN_AHEAD_S = 1.0
"""A timed announcement's connection is opened this long before it is due (well within any
server's keep-alive timeout)."""

ANSWER_TIMEOUT_S = 2.0
"""How long a timed announcement may take once due (as :meth:`ProducerClient.set_phase`)."""


def _settle(
    answered: asyncio.Future[Reply], reply: Reply | None, error: BaseException | None
) -> None:
    if answered.done():
        return
    if reply is not None:
        answered.set_result(reply)
    else:
        answered.set_exception(error or HttpError("no reply"))


class PhaseAnnouncer:
    """Sends phase changes of one (scenario, mode, workers) run to the producer."""

    def __init__(self, client: ProducerClient, scenario: str, mode: str, workers: int) -> None:
        self._client = client
        self._endpoint = Endpoint.from_url(f"{client.base_url}/experiment")
        self._scenario = (_NAME.sub("-", scenario).strip("-") or "scenario")[:64]
        self._mode = mode
        self._workers = workers
        self._warned = False
        self._timers: list[asyncio.Task[None]] = []

    async def set(self, phase: str, step: StepContext | None = None) -> None:
        """Announce ``phase`` now (of sweep step ``step``, if given)."""
        try:
            await self._client.set_phase(
                scenario=self._scenario,
                mode=self._mode,
                workers=self._workers,
                phase=phase,
                step=step,
            )
        except (ProducerError, ValueError) as exc:
            self._warn(exc)

    def at(self, epoch_s: float, phase: str, step: StepContext | None = None) -> None:
        """Announce ``phase`` at wall-clock time ``epoch_s`` (in the background).

        These moments are when a schedule starts or a burst begins or ends, on the event loop
        that sends it: the request is built and its connection opened ahead, so at the time
        the announcement is one socket write and costs the generator no lag (an HTTP client
        call there held the loop for several milliseconds, just as a burst's sends fell due).
        """
        try:
            request = build_request(
                "PUT",
                self._endpoint,
                context_body(self._scenario, self._mode, self._workers, phase, step),
            )
        except ValueError as exc:
            self._warn(exc)
            return

        async def later() -> None:
            await asyncio.sleep(max(0.0, epoch_s - OPEN_AHEAD_S - time.time()))
            try:
                async with asyncio.timeout(max(0.0, epoch_s - time.time()) + ANSWER_TIMEOUT_S):
                    connection = await Connection.open(self._endpoint)
                    try:
                        await asyncio.sleep(max(0.0, epoch_s - time.time()))
                        answered: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
                        connection.send(request, functools.partial(_settle, answered))
                        reply = await answered
                    finally:
                        connection.close()
            except (OSError, TimeoutError, HttpError) as exc:
                self._warn(exc)
                return
            if reply.status >= 300:
                detail = reply.body[:200].decode(errors="replace")
                self._warn(ProducerError(reply.status, "http_error", detail))

        self._timers.append(asyncio.create_task(later()))

    async def settle(self) -> None:
        """Wait for every pending announcement to be made, in order."""
        timers, self._timers = self._timers, []
        for timer in timers:
            await timer

    async def clear(self) -> None:
        """Cancel pending announcements and clear the context."""
        for timer in self._timers:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        self._timers.clear()
        try:
            await self._client.clear_phase()
        except ProducerError as exc:
            self._warn(exc)

    def _warn(self, exc: BaseException) -> None:
        if not self._warned:
            log.warning("cannot set the experiment phase on %s: %s", self._client.base_url, exc)
            self._warned = True
