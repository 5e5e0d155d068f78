"""What ``appendfsync always`` would cost: async submits per second under each fsync policy.

With ``everysec`` (burstlab's choice) Redis writes every command to its append-only file
before it answers and fsyncs once a second: a crash of the Redis process loses nothing it
acknowledged (``broker-crash`` proves it), a crash of the whole machine up to a second.
``always`` fsyncs before each answer, closing that second at the price measured here.
"""

from __future__ import annotations

import asyncio
import time

from faults.report import FaultReport
from faults.traffic import burst, job
from stack.local import LocalStack, StackConfig

SUBMITS = 3000
ROUNDS = 3


def _submit_rate(policy: str) -> float:
    """Best of a few rounds of ``SUBMITS`` async submits, 64 at a time (no worker consumes)."""
    config = StackConfig(
        workers=1, baseline_workers=1, redis_appendfsync=policy, extra_env={"QUEUE_NAME": "fsync"}
    )
    best = 0.0
    with LocalStack(config) as stack:
        for _ in range(ROUNDS):
            started = time.perf_counter()
            answers = asyncio.run(burst(stack.producer_url, job("async", 1), SUBMITS))
            elapsed = time.perf_counter() - started
            assert all(a.status == 202 for a in answers)
            best = max(best, SUBMITS / elapsed)
    return best


def fsync_cost() -> FaultReport:
    """Async submits per second with ``appendfsync everysec`` and with ``always``."""
    everysec = _submit_rate("everysec")
    always = _submit_rate("always")
    return FaultReport(
        name="fsync-cost",
        fault="async submit throughput under Redis appendfsync everysec vs always",
        notes={
            "submits/s everysec": round(everysec),
            "submits/s always": round(always),
            "always costs": f"{(1 - always / everysec) * 100:.0f}%",
        },
    )
