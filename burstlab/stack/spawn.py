"""Start child processes that die with this one.

On Linux each child gets a parent-death signal (``prctl(PR_SET_PDEATHSIG)``), so a stack
whose CLI is killed with SIGKILL takes its services with it instead of leaving them behind.
The kernel sends that signal when the *thread* that forked the child exits, not the process:
every child is therefore forked from one daemon thread that lives as long as this process,
whichever thread asks for it (the main thread, a supervisor's, a test's).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

PR_SET_PDEATHSIG = 1

T = TypeVar("T")
_Call = tuple[Callable[[], Any], Future[Any]]


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, resolved in the parent (the child only calls it); None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def death_signal_setter(signum: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get ``signum`` when this process dies.

    If this process died between the fork and the ``prctl`` (the signal would never come),
    the child exits at once instead of running on as an orphan. None where unsupported.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def set_death_signal() -> None:
        if prctl(PR_SET_PDEATHSIG, signum, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent:
            os._exit(1)

    return set_death_signal


class _ForkThread:
    """One daemon thread that runs every fork; started on first use, never stopped."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, call: Callable[[], T]) -> T:
        """Run ``call`` on the fork thread and return its result (or raise its error)."""
        with self._lock:
            # After an os.fork() of this process the old thread is gone: start a new one.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._serve, name="burstlab-fork", daemon=True
                )
                self._thread.start()
        future: Future[T] = Future()
        self._calls.put((call, future))
        return future.result()

    def _serve(self) -> None:
        while True:
            call, future = self._calls.get()
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)


_FORK_THREAD = _ForkThread()


def popen_dying_with_us(
    argv: Sequence[str], death_signal: int, **kwargs: Any
) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(argv, **kwargs)`` whose child gets ``death_signal`` when we die."""
    preexec = death_signal_setter(death_signal)
    return _FORK_THREAD.run(lambda: subprocess.Popen(list(argv), preexec_fn=preexec, **kwargs))
