"""Children die with the process that started them, even if the thread that asked is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from burstlab.stack.process import pid_alive

# Starts `sleep` from a thread that then exits, says the pid, and waits to be killed.
SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from burstlab.stack.process import ManagedProcess

    process = ManagedProcess("sleeper", ["sleep", "60"], {"PATH": "/usr/bin:/bin"},
                             Path(sys.argv[1]))
    starter = threading.Thread(target=process.start)
    starter.start()
    starter.join()
    print(process.pid, flush=True)
    time.sleep(60)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
def test_a_child_started_from_a_finished_thread_lives_on_and_dies_with_its_parent(
    tmp_path: Path,
) -> None:
    # Given a process that started a child from a thread which has since exited
    parent = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "sleeper.log")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        # Then the child is still running: the thread's exit did not kill it
        time.sleep(0.3)
        assert pid_alive(child)
        # When the parent is killed with SIGKILL (no chance to stop anything)
        parent.kill()
        parent.wait()
        # Then the child dies with it
        deadline = time.monotonic() + 5
        while pid_alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pid_alive(child)
    finally:
        if pid_alive(child):
            os.kill(child, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
