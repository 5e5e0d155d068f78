"""A child process in its own session, logging to a file, stopped with its whole group.

Each child dies with this process (a parent-death signal, see :mod:`burstlab.stack.spawn`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from burstlab.stack.spawn import popen_dying_with_us


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendant_pids(pid: int) -> list[int]:
    """Every live process below ``pid`` (children first, then theirs), read from ``/proc``."""
    tree = _children_by_parent()
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in tree.get(todo.pop(0), []):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, exited but not reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def describe_exit(returncode: int | None) -> str:
    """``exit code 3`` or ``killed by SIGKILL`` (``running`` while there is no code)."""
    if returncode is None:
        return "running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class ManagedProcess:
    """One service process: started in a new session so stopping it stops its children too.

    ``wanted`` says whether it should be running: :meth:`start` sets it, :meth:`stop` clears
    it (under ``lock``) before signalling, so a supervisor restarts only what died unasked.

    ``death_signal`` is what the process gets if this one dies (SIGKILL by default; a process
    whose children would outlive its SIGKILL gets one it handles by stopping them).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        *,
        death_signal: int = signal.SIGKILL,
    ) -> None:
        self.name = name
        self.death_signal = death_signal
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self.wanted = False
        self.lock = threading.RLock()
        self.started_at = 0.0
        """``time.monotonic()`` of the last start."""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        """Start the process (appending to its log file)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock, open(self.log_path, "ab") as log:
            self._proc = popen_dying_with_us(
                self.argv,
                self.death_signal,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.wanted = True
            self.started_at = time.monotonic()

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def exit_description(self) -> str:
        """How the process ended (``exit code 1``, ``killed by SIGKILL``) or ``running``."""
        return describe_exit(self.returncode())

    def child_pids(self) -> list[int]:
        """The live processes below this one (e.g. Celery's pool, gunicorn's workers)."""
        if not self.is_running() or self.pid is None:
            return []
        return descendant_pids(self.pid)

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the whole process group."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signum)

    def clear_group(self) -> None:
        """SIGKILL whatever is left of the process group (children that outlived the leader)."""
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)

    def terminate(self) -> None:
        """Ask the process to stop, on purpose (a supervisor leaves it down): SIGTERM its group."""
        with self.lock:
            self.wanted = False
        self.signal(signal.SIGTERM)

    def reap(self) -> None:
        """SIGKILL whatever is left of the group and collect the leader's exit status."""
        if self._proc is None:
            return
        # Children may outlive the leader: clear the whole group either way.
        self.clear_group()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the group, wait, then SIGKILL whatever is left of it (stopped on purpose)."""
        stop_together([self], timeout_s)

    def tail(self, lines: int = 20) -> str:
        """Return the last ``lines`` lines of the log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def stop_together(processes: Sequence[ManagedProcess], timeout_s: float) -> None:
    """Stop ``processes`` at once: SIGTERM every group, wait up to ``timeout_s`` for all of
    them, then SIGKILL whatever is left (so stopping N processes takes one timeout, not N)."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + timeout_s
    while any(p.is_running() for p in processes) and time.monotonic() < deadline:
        time.sleep(0.02)
    for process in processes:
        process.reap()
