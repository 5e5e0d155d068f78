"""Every fault scenario by name, in the order ``burstlab faults`` runs them."""

from __future__ import annotations

from collections.abc import Callable

from burstlab.faults import (
    broker_bounce,
    durability,
    hostile,
    kill_storm,
    overload,
    queue_faults,
    sync_faults,
)
from burstlab.faults.report import FaultReport

SCENARIOS: dict[str, tuple[Callable[[], FaultReport], str]] = {
    "worker-child-kill": (queue_faults.worker_child_kill, "about 20 s"),
    "worker-kill": (queue_faults.worker_kill, "about 40 s: the 15 s visibility timeout"),
    "worker-kill-storm": (kill_storm.worker_kill_storm, "about 4 min: 100 kills, 2 s each"),
    "worker-stop-storm": (kill_storm.worker_stop_storm, "about 3 min: 50 stops"),
    "broker-restart": (queue_faults.broker_restart, "about 40 s: the 15 s visibility timeout"),
    "broker-crash": (queue_faults.broker_crash, "about 40 s: the 15 s visibility timeout"),
    "broker-bounce": (broker_bounce.broker_bounce, "about 1 min: 10 kills (RabbitMQ: 3 min)"),
    "baseline-worker-kill": (sync_faults.baseline_worker_kill, "about 15 s"),
    "baseline-kill": (sync_faults.baseline_kill, "about 15 s"),
    "overload-sync": (overload.overload_sync, "about 45 s"),
    "overload-async": (overload.overload_async, "about 50 s"),
    "hostile-input": (hostile.hostile_input, "about 10 s"),
    "fsync-cost": (durability.fsync_cost, "about 20 s"),
}
"""Scenario name: (function, how long it takes)."""
