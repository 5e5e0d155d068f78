"""The one histogram bucket set, so sync and async latencies compare on one axis."""

from __future__ import annotations

LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)
"""Upper bounds in seconds, 1 ms to 10 min in 1-2-5 steps (plus 30 s): every latency histogram."""
