"""What the autoscaler scales: a replica count set through one small interface.

- :class:`FixedReplicas`: nothing moves (the fixed-at-min and fixed-at-max runs).
- :class:`LocalWorkerReplicas`: a replica is one ``burstlab worker`` process with
  ``concurrency`` pool processes, in its own process group, metrics off. The stack's own worker
  is the first replica; adding one starts a process after ``start_delay_s`` (image pull and
  scheduling) and measures how long it takes to start consuming (the time its ``worker_ready``
  signal records, which a control ping would see later by up to its timeout); removing one sends it
  SIGTERM, so Celery finishes the job it runs and acknowledges it (nothing is lost).
- :class:`ComposeWorkerReplicas`: ``docker compose up -d --no-recreate --scale worker=N``.
- :class:`GunicornReplicas`: the sync side; gunicorn adds a worker on SIGTTIN and retires the
  oldest on SIGTTOU, ``concurrency`` workers per replica.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from burstlab.jobs.names import worker_ready_key
from burstlab.stack.process import ManagedProcess, descendant_pids

PROCESS_MEMORY_MB = 70
"""Resident memory of one Celery process (main or pool) with burstlab loaded, rounded up."""
MEMORY_HEADROOM = 0.5
"""Share of the available memory the replicas may take."""


class ReplicaTarget(Protocol):
    """A scaled workload: the count asked for, the count serving, and a way to set it."""

    def requested(self) -> int:
        """Replicas asked for (a deployment's ``spec.replicas``)."""
        ...

    def ready(self) -> int:
        """Replicas serving now."""
        ...

    def scale(self, replicas: int) -> None:
        """Ask for ``replicas`` (returns at once; replicas start in the background)."""
        ...

    def close(self) -> None:
        """Stop what this target started."""
        ...


@dataclass
class FixedReplicas:
    """A workload that is not scaled."""

    count: int

    def requested(self) -> int:
        return self.count

    def ready(self) -> int:
        return self.count

    def scale(self, replicas: int) -> None:
        if replicas != self.count:
            raise ValueError(f"fixed at {self.count} replicas, asked for {replicas}")

    def close(self) -> None:
        return None


def machine_replica_limit(concurrency: int, available_mb: float | None = None) -> int:
    """How many replicas of ``concurrency`` pool processes this machine can start.

    Bounded by memory: each replica is ``concurrency + 1`` processes of about
    :data:`PROCESS_MEMORY_MB`, within :data:`MEMORY_HEADROOM` of the available memory.
    """
    if available_mb is None:
        available_mb = _available_memory_mb()
    per_replica = (concurrency + 1) * PROCESS_MEMORY_MB
    return max(1, int(available_mb * MEMORY_HEADROOM // per_replica))


def _available_memory_mb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 2048.0


@dataclass
class Replica:
    """One extra worker process and what its start cost."""

    process: ManagedProcess
    asked_at: float
    ready_at: float | None = None
    timer: threading.Timer | None = None


@dataclass
class LocalWorkerReplicas:
    """Worker replicas on this machine beside a running stack's own worker (replica one)."""

    redis_url: str
    env: dict[str, str]
    run_dir: Path
    concurrency: int
    start_delay_s: float = 0.0
    stop_timeout_s: float = 30.0
    base_ready: bool = True
    _replicas: list[Replica] = field(default_factory=list)
    _stopping: list[ManagedProcess] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _serial: int = 0
    start_times_s: list[float] = field(default_factory=list)
    """Measured seconds from process start to consuming, one per replica."""
    ready_epochs_s: list[float] = field(default_factory=list)
    """When each replica started consuming (epoch seconds, its ``worker_ready`` record)."""
    stop_epochs_s: list[float] = field(default_factory=list)
    """When each replica that had been ready was told to stop (epoch seconds)."""

    def requested(self) -> int:
        with self._lock:
            return 1 + len(self._replicas)

    def ready(self) -> int:
        with self._lock:
            return int(self.base_ready) + sum(r.ready_at is not None for r in self._replicas)

    def scale(self, replicas: int) -> None:
        with self._lock:
            while 1 + len(self._replicas) < replicas:
                self._add()
            while 1 + len(self._replicas) > max(replicas, 1):
                self._remove(self._replicas.pop())
            self._stopping = [p for p in self._stopping if p.is_running()]

    def _add(self) -> None:
        self._serial += 1
        name = f"worker-{self._serial + 1}"
        env = {
            **self.env,
            "REDIS_URL": self.redis_url,
            "WORKER_CONCURRENCY": str(self.concurrency),
            "WORKER_METRICS_PORT": "0",
            "PROMETHEUS_MULTIPROC_DIR": str(self.run_dir / "metrics" / name),
        }
        argv = [sys.executable, "-m", "burstlab", "worker"]
        process = ManagedProcess(name, argv, env, self.run_dir / f"{name}.log")
        replica = Replica(process, time.monotonic())
        replica.timer = threading.Timer(self.start_delay_s, self._start, args=(replica,))
        replica.timer.daemon = True
        self._replicas.append(replica)
        replica.timer.start()

    def _start(self, replica: Replica) -> None:
        with self._lock:
            if replica not in self._replicas:
                return
            replica.process.start()
        threading.Thread(target=self._wait_ready, args=(replica,), daemon=True).start()

    def _wait_ready(self, replica: Replica) -> None:
        import redis

        process = replica.process
        key = worker_ready_key(f"burstlab-{process.pid}@{socket.gethostname()}")
        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        try:
            while process.is_running():
                try:
                    recorded = client.get(key)
                except redis.RedisError:
                    recorded = None
                if recorded is not None:
                    # The worker's own clock reading, carried to this process's monotonic one
                    ready_epoch = float(recorded)
                    ready = time.monotonic() - max(time.time() - ready_epoch, 0.0)
                    with self._lock:
                        replica.ready_at = ready
                        self.start_times_s.append(ready - process.started_at)
                        self.ready_epochs_s.append(ready_epoch)
                    return
                time.sleep(0.05)
        finally:
            client.close()

    def _remove(self, replica: Replica) -> None:
        if replica.timer is not None:
            replica.timer.cancel()
        if replica.ready_at is not None:
            self.stop_epochs_s.append(time.time())
        process = replica.process
        if process.is_running() and process.pid is not None:
            # SIGTERM to the main process only: Celery's warm shutdown lets the pool finish the
            # job it runs and acknowledges it. The same signal to the pool processes would kill
            # the job mid-run, and task_reject_on_worker_lost would run it a second time.
            with process.lock:
                process.wanted = False
            os.kill(process.pid, signal.SIGTERM)
            self._stopping.append(process)

    def close(self) -> None:
        """Stop every extra replica (SIGTERM, then SIGKILL after ``stop_timeout_s``)."""
        with self._lock:
            while self._replicas:
                self._remove(self._replicas.pop())
            stopping, self._stopping = self._stopping, []
        deadline = time.monotonic() + self.stop_timeout_s
        while any(p.is_running() for p in stopping) and time.monotonic() < deadline:
            time.sleep(0.05)
        for process in stopping:
            process.reap()

    def stopping(self) -> int:
        """Replicas told to stop that are still finishing their jobs."""
        with self._lock:
            return sum(p.is_running() for p in self._stopping)


@dataclass
class GunicornReplicas:
    """The baseline's gunicorn workers, ``concurrency`` per replica, scaled by signals.

    A scale-up signals after ``start_delay_s`` (as a worker replica starts after it), and how
    long gunicorn then takes to fork the workers is measured; a scale-down first cancels
    scale-ups still waiting, then retires workers at once.
    """

    master_pid: int
    concurrency: int
    initial: int
    start_delay_s: float = 0.0
    start_times_s: list[float] = field(default_factory=list)
    """Measured seconds from the first SIGTTIN of a scale-up until its workers run."""
    ready_epochs_s: list[float] = field(default_factory=list)
    """When each replica's workers ran (epoch seconds), one per replica."""
    stop_epochs_s: list[float] = field(default_factory=list)
    """When each running replica was retired (epoch seconds)."""
    _requested: int = 0
    _pending: list[tuple[threading.Timer, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _signal_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._requested = self.initial

    def requested(self) -> int:
        return self._requested

    def ready(self) -> int:
        return len(_direct_children(self.master_pid)) // self.concurrency

    def scale(self, replicas: int) -> None:
        with self._lock:
            delta = replicas - self._requested
            self._requested = replicas
            if delta > 0:
                self._pending.append(self._timer(delta))
                return
            remove = -delta
            while remove and self._pending:
                timer, count = self._pending.pop()
                timer.cancel()
                kept, remove = count - remove, max(0, remove - count)
                if kept > 0:
                    self._pending.append(self._timer(kept))  # the rest waits a whole delay again
        if remove:
            self.stop_epochs_s.extend([time.time()] * remove)
            self._signal(signal.SIGTTOU, remove * self.concurrency)

    def _timer(self, replicas: int) -> tuple[threading.Timer, int]:
        timer = threading.Timer(self.start_delay_s, self._add, args=(replicas,))
        timer.daemon = True
        timer.start()
        return timer, replicas

    def _add(self, replicas: int) -> None:
        with self._lock:
            me = threading.current_thread()  # this scale-up can no longer be cancelled
            self._pending = [(t, n) for t, n in self._pending if t is not me]
        workers = replicas * self.concurrency
        with self._signal_lock:
            before = len(_direct_children(self.master_pid))
            started = time.monotonic()
            self._signal(signal.SIGTTIN, workers)
            deadline = started + 30
            while time.monotonic() < deadline:
                if len(_direct_children(self.master_pid)) >= before + workers:
                    self.start_times_s.append(time.monotonic() - started)
                    self.ready_epochs_s.extend([time.time()] * replicas)
                    return
                time.sleep(0.05)

    def _signal(self, signum: int, times: int) -> None:
        for _ in range(times):
            os.kill(self.master_pid, signum)
            time.sleep(0.05)  # one signal at a time: pending signals of a kind merge

    def close(self) -> None:
        with self._lock:
            for timer, _ in self._pending:
                timer.cancel()
            self._pending.clear()


def _direct_children(pid: int) -> list[int]:
    found = []
    for child in descendant_pids(pid):
        try:
            stat = Path(f"/proc/{child}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(child)
    return found
