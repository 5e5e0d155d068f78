"""Live progress of a run (rich): elapsed, sent, answered, completed, backlog, mode, workers.

The backlog and the async completion count come from the producer's ``GET /queue``, read twice
a second: one small request, not a poll per job. Without a terminal, one line per run is
printed when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from burstlab.client import ProducerClient, ProducerError
from burstlab.experiments.loadgen.generator import Progress

REFRESH_S = 0.5


@dataclass
class _View:
    mode: str
    workers: int
    progress: Progress
    queue: dict[str, Any] | None = None
    finished_before: int | None = None

    def render(self, done: bool = False) -> Text:
        if self.mode == "async" and self.queue is not None:
            completed = self.queue["finished_total"] - (self.finished_before or 0)
            backlog = self.queue["backlog"]
        else:
            completed = self.progress.answered - self.progress.errors
            backlog = self.progress.sent - self.progress.answered
        elapsed = time.time() - self.progress.started_at
        state = "done" if done else "running"
        return Text.from_markup(
            f"[bold]{self.mode:>5}[/bold] x{self.workers:<3} {state:<7} {elapsed:6.1f} s  "
            f"sent {self.progress.sent}/{self.progress.offered}  "
            f"answered {self.progress.answered}  completed {completed}  backlog {backlog}"
        )


class ProgressDisplay:
    """Shows one line per run, updated in place on a terminal."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        if console is None and not self.console.is_terminal:
            self.console = Console(stderr=True, width=160)

    def note(self, message: str) -> None:
        """Print a line between runs."""
        if self.enabled and message:
            self.console.print(f"[dim]{message}[/dim]")

    @contextlib.asynccontextmanager
    async def run(
        self,
        client: ProducerClient,
        mode: str,
        workers: int,
        progress: Progress,
    ) -> AsyncIterator[None]:
        """Display ``progress`` while the body runs."""
        if not self.enabled:
            yield
            return
        view = _View(mode, workers, progress)
        await self._read_queue(client, view)
        view.finished_before = view.queue["finished_total"] if view.queue else None
        live = Live(view.render(), console=self.console, auto_refresh=False)
        if self.console.is_terminal:
            live.start()
        task = asyncio.create_task(self._refresh(live, client, view))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self._read_queue(client, view)
            if self.console.is_terminal:
                live.update(view.render(done=True), refresh=True)
                live.stop()
            else:
                self.console.print(view.render(done=True))

    async def _refresh(self, live: Live, client: ProducerClient, view: _View) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            await self._read_queue(client, view)
            if self.console.is_terminal:
                live.update(view.render(), refresh=True)

    @staticmethod
    async def _read_queue(client: ProducerClient, view: _View) -> None:
        with contextlib.suppress(ProducerError):
            view.queue = await client.queue(timeout_s=1)
