"""``burstlab stack up`` starts every service, and stopping it leaves nothing behind.

Stopping means SIGTERM or Ctrl-C (SIGINT), while running or while still starting: the command
exits within 5 s (asserted with twice that), with no process and no run folder left. Killing
the command itself with SIGKILL takes its services with it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from burstlab.stack.process import descendant_pids, pid_alive

STOP_BOUND_S = 10.0
"""Twice the 5 s the command promises, so a loaded machine does not fail the test."""


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    return set(descendant_pids(pid))


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _survivors(pids: set[int]) -> dict[int, str]:
    return {pid: " ".join(_cmdline(pid))[:120] for pid in pids if pid_alive(pid)}


@dataclass
class StackCommand:
    """A running ``burstlab stack up`` and what it printed so far."""

    proc: subprocess.Popen[str]
    output: str = ""
    seen: set[int] = field(default_factory=set)
    """Every process ever found below the command (cleaned up if a test fails)."""

    def processes(self) -> set[int]:
        """The live processes below the command now."""
        found = descendants(self.proc.pid)
        self.seen |= found
        return found

    def read_until(self, marker: str, timeout_s: float = 90) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while marker not in self.output and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output += line
        assert marker in self.output, self.output
        return self.output

    def url(self, label: str) -> str:
        found = re.search(rf"^{label}\s+(http://\S+)", self.output, re.MULTILINE)
        assert found, self.output
        return found.group(1)

    @property
    def run_dir(self) -> Path:
        found = re.search(r"^logs\s+(\S+)", self.output, re.MULTILINE)
        assert found, self.output
        return Path(found.group(1))

    def stop(self, signum: int) -> float:
        """Send ``signum`` and return how long the command took to exit."""
        sent = time.monotonic()
        self.proc.send_signal(signum)
        rest, _ = self.proc.communicate(timeout=60)
        elapsed = time.monotonic() - sent
        self.output += rest
        return elapsed


@contextlib.contextmanager
def stack_up(*args: str) -> Iterator[StackCommand]:
    """Run ``burstlab stack up`` on free ports; whatever a failing test leaves is cleaned up."""
    argv = [sys.executable, "-m", "burstlab", "stack", "up", "--port", "0", *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    command = StackCommand(proc)
    try:
        yield command
    finally:
        command.processes()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in _survivors(command.seen):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _post_sync_job(producer_url: str) -> int:
    request = urllib.request.Request(
        f"{producer_url}/jobs",
        data=b'{"mode": "sync", "kind": "io", "duration_ms": 5}',
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def _run_dir_of(pids: set[int]) -> Path | None:
    """The run folder, from Prometheus' ``--config.file=<run dir>/prometheus/prometheus.yml``
    (None until a process shows that argument: one just started may not show its command line
    yet)."""
    for pid in pids:
        for arg in _cmdline(pid):
            if arg.startswith("--config.file="):
                return Path(arg.split("=", 1)[1]).parent.parent
    return None


@pytest.mark.parametrize(
    ("stop_signal", "prometheus"),
    [(signal.SIGTERM, False), (signal.SIGTERM, True), (signal.SIGINT, True)],
    ids=["sigterm", "sigterm-prometheus", "sigint-prometheus"],
)
def test_stack_up_serves_jobs_and_a_signal_stops_it_within_seconds_leaving_nothing(
    stop_signal: signal.Signals, prometheus: bool
) -> None:
    # Given `burstlab stack up` on free ports, with or without Prometheus
    extra = ["--prometheus", "--prometheus-port", "0"] if prometheus else []
    with stack_up("--workers", "2", "--baseline-workers", "2", *extra) as command:
        command.read_until("ready; press Ctrl-C")
        producer_url = command.url("producer")
        run_dir = command.run_dir
        # When it is running, Then every service is up: a sync job runs through the producer
        assert _post_sync_job(producer_url) == 200
        with urllib.request.urlopen(f"{producer_url}/readyz", timeout=10) as response:
            assert response.status == 200
        started = command.processes()
        # redis, gunicorn master + 2 workers, celery main + 2 children, producer (+ prometheus)
        assert len(started) >= 8 + prometheus, _survivors(started)
        assert run_dir.is_dir()
        # When it is sent the signal
        elapsed = command.stop(stop_signal)
        print(f"stack up stopped by {stop_signal.name} in {elapsed:.2f} s")
        # Then it exits within seconds, leaving no process it started and no temporary folder
        assert elapsed < STOP_BOUND_S, command.output
        assert command.proc.returncode == 0, command.output
        time.sleep(0.2)
        assert _survivors(started) == {}
        assert not run_dir.exists()
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{producer_url}/healthz", timeout=2)


def test_a_signal_while_the_stack_is_still_starting_stops_it_within_seconds() -> None:
    # Given `burstlab stack up --prometheus` that has started its processes but is not ready yet
    with stack_up("--prometheus", "--prometheus-port", "0") as command:
        deadline = time.monotonic() + 60
        started: set[int] = set()
        run_dir = None
        while time.monotonic() < deadline:
            started = command.processes()
            run_dir = _run_dir_of(started)
            if run_dir is not None:
                break
            time.sleep(0.02)
        assert run_dir is not None, f"no prometheus among {_survivors(started)}"
        # When it is sent SIGTERM
        elapsed = command.stop(signal.SIGTERM)
        print(f"stack up stopped while starting in {elapsed:.2f} s")
        # Then it gives up the start at once and leaves nothing behind
        assert "stopped before the stack was ready" in command.output, command.output
        assert elapsed < STOP_BOUND_S, command.output
        time.sleep(0.2)
        assert _survivors(started) == {}
        assert not run_dir.exists()


def test_killing_stack_up_with_sigkill_takes_every_service_with_it() -> None:
    # Given a ready `burstlab stack up --prometheus` and every process it started
    with stack_up("--prometheus", "--prometheus-port", "0") as command:
        command.read_until("ready; press Ctrl-C")
        run_dir = command.run_dir
        started = command.processes()
        names = {_name(pid) for pid in started}
        assert {"redis-server", "prometheus"} <= names, _survivors(started)
        assert len(started) >= 9, _survivors(started)
        try:
            # When the command itself is killed, with no chance to stop anything
            killed = time.monotonic()
            command.proc.kill()
            command.proc.wait()
            # Then every service process dies shortly after (no orphaned redis-server)
            deadline = killed + STOP_BOUND_S
            while _survivors(started) and time.monotonic() < deadline:
                time.sleep(0.05)
            print(f"services gone {time.monotonic() - killed:.2f} s after SIGKILL")
            assert _survivors(started) == {}
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing left to remove it
