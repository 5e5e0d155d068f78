"""``burstlab stack up`` starts every service, and stopping it leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    tree = _children_map()
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_stack_up_serves_jobs_and_stopping_it_leaves_no_process_or_temp_files(
    stop_signal: signal.Signals,
) -> None:
    # Given `burstlab stack up` on free ports
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "burstlab",
            "stack",
            "up",
            "--port",
            "0",
            "--workers",
            "2",
            "--baseline-workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "ready" in line and "Ctrl-C" in line:
            break
    output = "".join(lines)
    assert "ready" in output, output
    producer_url = re.search(r"producer\s+(http://\S+)", output).group(1)  # type: ignore[union-attr]
    run_dir = Path(re.search(r"logs\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    # When it is running, Then every service is up: a sync job runs through the producer
    request = urllib.request.Request(
        f"{producer_url}/jobs",
        data=b'{"mode": "sync", "kind": "io", "duration_ms": 5}',
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    with urllib.request.urlopen(f"{producer_url}/readyz", timeout=10) as response:
        assert response.status == 200
    started = descendants(proc.pid)
    # redis, gunicorn master + 2 workers, celery main + 2 children, producer
    assert len(started) >= 8, started
    assert run_dir.is_dir()
    # When it is stopped
    proc.send_signal(stop_signal)
    proc.wait(timeout=30)
    time.sleep(0.2)
    # Then no process it started is left, and its temporary folder is gone
    assert [pid for pid in started if _alive(pid)] == []
    assert not run_dir.exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{producer_url}/healthz", timeout=2)
