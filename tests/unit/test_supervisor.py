"""The supervisor restarts processes that die unasked, says why, and leaves stopped ones alone."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from burstlab.stack.process import ManagedProcess, describe_exit
from burstlab.stack.supervisor import Supervisor


def _wait(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[ManagedProcess]:
    process = ManagedProcess(
        "sleeper", ["sleep", "60"], {"PATH": "/usr/bin:/bin"}, tmp_path / "s.log"
    )
    process.start()
    yield process
    process.stop(timeout_s=1)


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(None) == "running"


def test_a_process_killed_unasked_is_restarted_with_a_log_line_saying_why(
    sleeper: ManagedProcess, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a supervised process
    supervisor = Supervisor([sleeper])
    supervisor.start()
    first_pid = sleeper.pid
    try:
        # When it is killed
        with caplog.at_level(logging.WARNING, logger="burstlab.stack.supervisor"):
            sleeper.signal(signal.SIGKILL)
            restarted = _wait(lambda: supervisor.restarts("sleeper") == 1 and sleeper.is_running())
        # Then it runs again under a new pid, and the log says which and why
        assert restarted
        assert sleeper.pid != first_pid
        assert "sleeper exited unexpectedly (killed by SIGKILL)" in caplog.text
        assert supervisor.events[0].reason == "killed by SIGKILL"
    finally:
        supervisor.close()


def test_a_process_stopped_on_purpose_is_not_restarted(sleeper: ManagedProcess) -> None:
    # Given a supervised process
    supervisor = Supervisor([sleeper])
    supervisor.start()
    try:
        # When it is stopped on purpose
        sleeper.stop(timeout_s=1)
        time.sleep(0.5)
        # Then it stays down, and starting it again is not counted as a restart
        assert not sleeper.is_running()
        sleeper.start()
        time.sleep(0.3)
        assert sleeper.is_running()
        assert supervisor.events == []
    finally:
        supervisor.close()


def test_a_process_that_keeps_dying_is_restarted_with_a_growing_delay(tmp_path: Path) -> None:
    # Given a process that exits at once with code 3
    crasher = ManagedProcess(
        "crasher", ["sh", "-c", "exit 3"], {"PATH": "/usr/bin:/bin"}, tmp_path / "c.log"
    )
    crasher.start()
    supervisor = Supervisor([crasher])
    supervisor.start()
    try:
        # When it has been supervised for 2.5 s
        time.sleep(2.5)
    finally:
        supervisor.close()
        crasher.stop(timeout_s=1)
    # Then it was restarted at once, then after 0.5 s, then 1 s: not in a tight loop
    gaps = [
        b.restarted_at - a.restarted_at
        for a, b in zip(supervisor.events, supervisor.events[1:], strict=False)
    ]
    assert 3 <= len(supervisor.events) <= 4, supervisor.events
    assert all(event.reason == "exit code 3" for event in supervisor.events)
    assert gaps[0] >= 0.45 and gaps[1] >= 0.95
