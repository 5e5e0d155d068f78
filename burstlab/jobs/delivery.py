"""How an async job is delivered again when its worker dies: the contract the workers keep and
the fault scenarios measure (``burstlab faults`` reads the bounds from here, not from a worker).
"""

from __future__ import annotations

FETCHES = ("reliable", "kombu")
"""How a worker takes messages from Redis: ``reliable`` (workers.reliable_redis: taken and
recorded as unacknowledged in one step) or ``kombu`` (kombu's own BRPOP, which can lose a message
fetched by a worker killed before it recorded it; kept to show that loss side by side)."""

DEFAULT_VISIBILITY_TIMEOUT_S = 15.0
"""Short, so a dead worker's messages come back in seconds. With the reliable fetch a live worker
refreshes the messages it holds every third of it (workers.reliable_redis), so a job longer than
this still runs once; with kombu's own fetch it must outlast the longest job."""

UNACKED_RESTORE_INTERVAL_S = 5
"""How often kombu sweeps for unacknowledged jobs older than the visibility timeout (a job
whose worker died) and puts them back in the queue. kombu's default sweeps only every ~100 s
(10 s x a throttle of 10); here every sweep scans."""
