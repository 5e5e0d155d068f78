"""Restart a stack's processes that die, as compose's ``restart: unless-stopped`` does.

A process that exits while it is wanted is restarted, with a log line saying which and why
(its exit code or the signal that killed it); what is left of its process group is cleared
first, as a container's processes go with its main process. The first restart is immediate;
a process that dies again within a minute waits a growing delay (0.5 s, doubling up to 30 s).
A process stopped on purpose (:meth:`ManagedProcess.stop`) is left alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from burstlab.stack.process import ManagedProcess

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.1
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 30.0
STABLE_AFTER_S = 60.0
"""A process that ran this long before dying is restarted at once again."""


@dataclass(frozen=True)
class RestartEvent:
    """One restart: which process, why it ended, when it died and when it started again."""

    name: str
    reason: str
    died_at: float
    """Epoch seconds when the supervisor saw it dead."""
    restarted_at: float
    """Epoch seconds of the new start."""


@dataclass
class _Watched:
    process: ManagedProcess
    delay_s: float = FIRST_DELAY_S
    wait_s: float = 0.0
    died_at: float | None = None
    reason: str = ""


class Supervisor:
    """Watches processes from a background thread and restarts the ones that die unasked."""

    def __init__(
        self,
        processes: Iterable[ManagedProcess],
        on_restart: Callable[[RestartEvent], None] | None = None,
    ) -> None:
        self._watched = [_Watched(p) for p in processes]
        self._on_restart = on_restart
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.events: list[RestartEvent] = []
        """Every restart so far, oldest first."""

    def start(self) -> None:
        """Start watching (the processes are already running)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="burstlab-supervisor", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop watching; nothing is restarted after this returns."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def restarts(self, name: str) -> int:
        """How many times the process ``name`` was restarted."""
        return sum(1 for event in self.events if event.name == name)

    def _run(self) -> None:
        while not self._stop.wait(POLL_INTERVAL_S):
            for watched in self._watched:
                if self._stop.is_set():
                    return
                with watched.process.lock:
                    self._check(watched)

    def _check(self, watched: _Watched) -> None:
        process = watched.process
        if not process.wanted:
            watched.died_at = None
            return
        if process.is_running():
            return
        now = time.monotonic()
        if watched.died_at is None:
            watched.died_at = now
            watched.reason = process.exit_description()
            process.clear_group()
            if self.restarts(process.name) == 0 or now - process.started_at >= STABLE_AFTER_S:
                watched.wait_s, watched.delay_s = 0.0, FIRST_DELAY_S
            else:
                watched.wait_s = watched.delay_s
                watched.delay_s = min(watched.delay_s * 2, MAX_DELAY_S)
            later = f" in {watched.wait_s:.1f} s" if watched.wait_s else ""
            log.warning(
                "stack: %s exited unexpectedly (%s); restarting it%s",
                process.name,
                watched.reason,
                later,
            )
        if now - watched.died_at < watched.wait_s:
            return
        died_wall = time.time() - (now - watched.died_at)
        process.start()
        event = RestartEvent(process.name, watched.reason, died_wall, time.time())
        self.events.append(event)
        log.warning(
            "stack: %s restarted (pid %s, restart #%d)",
            process.name,
            process.pid,
            self.restarts(process.name),
        )
        watched.died_at = None
        if self._on_restart is not None:
            self._on_restart(event)
