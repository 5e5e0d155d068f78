"""The generator's scheduling priority while it keeps a schedule beside the stack.

On a machine whose cores the stack (and anything else) keeps busy, a generator that is ready to
send still waits for a core: measured on a loaded 2-core machine, a loop that only sleeps to each
intended time already misses it by 1-5 ms at p99 under the normal policy, and by ~0.5 ms under
``SCHED_RR``. Nice values do not help across cgroups; the real-time policy does. The kernel's
real-time throttling (``sched_rt_runtime_us``) still leaves other tasks their share.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

REALTIME_PRIORITY = 1
"""The lowest real-time priority: above every normal task, below every other real-time one."""
FALLBACK_NICE = -10


@contextlib.contextmanager
def generator_priority() -> Iterator[str]:
    """Run the block at ``SCHED_RR`` priority 1, else at nice -10, else unchanged; yield which.

    Linux applies both to the calling thread only (the stack, started before, keeps its own);
    the previous policy is restored after the block. Raising either needs ``CAP_SYS_NICE``.
    """
    policy = os.sched_getscheduler(0)
    param = os.sched_getparam(0)
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(REALTIME_PRIORITY))
    except OSError:
        pass
    else:
        try:
            yield f"SCHED_RR {REALTIME_PRIORITY}"
        finally:
            os.sched_setscheduler(0, policy, param)
        return
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, FALLBACK_NICE)
    except OSError:
        yield f"nice {nice}"
        return
    try:
        yield f"nice {FALLBACK_NICE}"
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
