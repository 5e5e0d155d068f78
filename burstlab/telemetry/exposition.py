"""Serving metrics of a forking server: one registry per scrape over every process's files.

Used by the main process of a Celery prefork worker and by gunicorn's master: neither runs
jobs, so a scrape is answered even while every child is busy. Before each scrape the files of
children that are gone are marked dead, so "live" gauges (busy and total processes) never
count a process that was killed without running its exit hooks.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

_LIVE_FILE = re.compile(r"^gauge_live[a-z]*_(\d+)\.db$")
SWITCH_INTERVAL_ENV = "METRICS_SWITCH_INTERVAL_MS"
DEFAULT_SWITCH_INTERVAL_MS = 1.0
"""Python's default is 5 ms. A scrape answered by a thread waits for the GIL at each of its
socket operations; while the serving process's other thread is busy (an event loop or a Celery
consumer in a burst) each wait lasts up to the switch interval, so a scrape took several of
them. A thread that waits for nothing, the rest of the time, costs nothing."""


def switch_interval_ms(env: dict[str, str] | None = None) -> float:
    """``METRICS_SWITCH_INTERVAL_MS`` (default 1), refused with its name if not in (0, 100]."""
    raw = (os.environ if env is None else env).get(SWITCH_INTERVAL_ENV, "")
    if not raw.strip():
        return DEFAULT_SWITCH_INTERVAL_MS
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 100:
        raise ValueError(f"{SWITCH_INTERVAL_ENV} must be a number of ms in (0, 100], got {raw!r}")
    return value


def _is_live_child(pid: int, parent: int) -> bool:
    """Whether ``pid`` is a running (not zombie) child of ``parent``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0] != "Z" and int(fields[1]) == parent


def reap_dead_processes(path: Path, parent: int | None = None) -> list[int]:
    """Mark dead every process with live-gauge files in ``path`` that is no longer our child.

    ``parent`` is the serving process (default: this one); its own files are kept.
    Returns the pids marked dead.
    """
    parent = os.getpid() if parent is None else parent
    pids = set()
    for entry in os.listdir(path):
        match = _LIVE_FILE.match(entry)
        if match:
            pids.add(int(match.group(1)))
    dead = sorted(pid for pid in pids if pid != parent and not _is_live_child(pid, parent))
    for pid in dead:
        mark_process_dead(pid, str(path))
    return dead


class _ReapingCollector:
    """:class:`MultiProcessCollector` that first marks dead children as dead."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._files = MultiProcessCollector(None, str(path))

    def collect(self) -> Iterable[Metric]:
        reap_dead_processes(self._path)
        return self._files.collect()


def multiprocess_registry(path: Path) -> CollectorRegistry:
    """A registry exposing the merged values of every process writing to ``path``."""
    registry = CollectorRegistry()
    registry.register(_ReapingCollector(path))  # type: ignore[arg-type]
    return registry


class MetricsServer:
    """A metrics HTTP server on a daemon thread of the serving (parent) process."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry) -> None:
        sys.setswitchinterval(switch_interval_ms() / 1000)  # see DEFAULT_SWITCH_INTERVAL_MS
        self._httpd: WSGIServer
        self._thread: threading.Thread
        self._httpd, self._thread = start_http_server(port, addr=host, registry=registry)
        self.port = int(self._httpd.server_address[1])

    def close_in_child(self) -> None:
        """In a forked child: close the inherited listening socket (the parent keeps serving).

        Otherwise a child outliving a killed parent would hold the port open, unanswered.
        """
        self._httpd.socket.close()

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
