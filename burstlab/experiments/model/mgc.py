"""M/G/c prediction of one sweep step: Erlang C waits scaled by Allen-Cunneen.

The mean wait is the M/M/c one times (ca^2 + cs^2) / 2, with cs^2 the measured squared
coefficient of variation of service times and ca^2 = 1 for Poisson arrivals. Wait quantiles
use the M/M/c tail P(W > t) = C exp(-(c mu - lambda) t) with the decay stretched by the same
factor (the heavy-traffic scaling); response quantiles add the mean service time, which is
close for nearly fixed service and an approximation otherwise.
"""

from __future__ import annotations

import math
from typing import Any

from burstlab.experiments.model.theory import erlang_c

SATURATION_SLACK = 1e-9
QUANTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}


def wait_quantile_s(p_wait: float, decay_per_s: float, percentile: float) -> float:
    """t with C exp(-decay t) = 1 - percentile / 100 (0 when fewer than that many wait)."""
    tail = 1 - percentile / 100
    if tail >= p_wait or decay_per_s == math.inf:
        return 0.0
    return math.log(p_wait / tail) / decay_per_s


def predict_step(
    rate_per_s: float, servers: int, service_s: float, cs2: float, ca2: float = 1.0
) -> dict[str, Any]:
    """Predicted utilisation, waits and response quantiles (ms) at ``rate_per_s``.

    ``stable`` is False, with nothing else predicted, when lambda >= c / S.
    """
    utilization = rate_per_s * service_s / servers
    base: dict[str, Any] = {
        "rate_per_s": rate_per_s,
        "servers": servers,
        "service_ms": service_s * 1000,
        "cs2": cs2,
        "ca2": ca2,
        "utilization": utilization,
        "capacity_per_s": servers / service_s,
    }
    # rho = 1 computed as (c / S) * S / c may land a hair below 1: that is saturation too.
    if utilization >= 1 - SATURATION_SLACK:
        return {**base, "stable": False}
    p_wait = erlang_c(servers, rate_per_s * service_s) if rate_per_s > 0 else 0.0
    factor = (ca2 + cs2) / 2
    spare = servers / service_s - rate_per_s
    mean_wait = p_wait / spare * factor
    decay = spare / factor if factor > 0 else math.inf
    quantiles = {
        name: (service_s + wait_quantile_s(p_wait, decay, pct)) * 1000
        for name, pct in QUANTILES.items()
    }
    return {
        **base,
        "stable": True,
        "p_wait": p_wait,
        "mean_wait_ms": mean_wait * 1000,
        "mean_ms": (service_s + mean_wait) * 1000,
        **{f"{name}_ms": value for name, value in quantiles.items()},
        "mean_queue": rate_per_s * mean_wait,
    }


def squared_cv(values: list[float]) -> float:
    """Squared coefficient of variation var / mean^2 (population), 0 for fewer than 2 values."""
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    if mean <= 0:
        return 0.0
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    return variance / mean**2
