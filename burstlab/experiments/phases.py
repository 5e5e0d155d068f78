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
import logging
import re
import time

from burstlab.client import ProducerClient, ProducerError
from producer.experiment_context import StepContext

log = logging.getLogger(__name__)
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class PhaseAnnouncer:
    """Sends phase changes of one (scenario, mode, workers) run to the producer."""

    def __init__(self, client: ProducerClient, scenario: str, mode: str, workers: int) -> None:
        self._client = client
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
        """Announce ``phase`` at wall-clock time ``epoch_s`` (in the background)."""

        async def later() -> None:
            await asyncio.sleep(max(0.0, epoch_s - time.time()))
            await self.set(phase, step)

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
