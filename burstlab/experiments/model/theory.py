"""Queueing predictions for N workers with mean service time S, to set beside measurements.

Burst drain: how long N servers take to clear B jobs that arrive at once. Steady state:
M/M/c (Erlang C) for Poisson arrivals and exponential service; for fixed service or paced
arrivals the mean wait uses the Allen-Cunneen factor (ca^2 + cs^2) / 2, exact for M/M/c.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from burstlab.scenario.arrivals import BurstArrival, PoissonArrival, SteadyArrival
from burstlab.scenario.spec import Scenario

# A measurement further than this fraction from its prediction is flagged in the report.
DEVIATION_TOLERANCE = 0.20


@dataclass(frozen=True)
class TheoryInputs:
    """What the predictions need: workers N, measured unloaded service time S, and the load.

    ``service_model`` is "fixed", "exponential" or "measured" (a user's task: the squared
    coefficient of variation ``cs2`` its probes measured); ``arrival_model`` is "poisson" or
    "paced";
    ``burst_size`` B for burst predictions; ``arrival_rate`` (jobs/s) for steady-state ones
    and for base traffic under a burst, which keeps arriving ``base_window_s`` after the burst
    starts (None: for the whole drain).
    """

    workers: int
    service_s: float
    service_model: str = "fixed"
    arrival_model: str = "poisson"
    burst_size: int | None = None
    arrival_rate: float | None = None
    base_window_s: float | None = None
    cs2: float = 0.0


@dataclass(frozen=True)
class Theory:
    """Predictions for one run; fields that do not apply are None."""

    workers: int
    service_s: float
    capacity_per_s: float
    burst_drain_s: float | None = None
    burst_mean_latency_s: float | None = None
    burst_p50_latency_s: float | None = None
    burst_p99_latency_s: float | None = None
    utilization: float | None = None
    stable: bool | None = None
    p_wait: float | None = None
    mean_wait_s: float | None = None
    wait_p99_s: float | None = None
    mean_response_s: float | None = None
    mean_in_system: float | None = None
    littles_law_in_system: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for summary.json."""
        return asdict(self)


def capacity(workers: int, service_s: float) -> float:
    """Maximum throughput N / S in jobs per second."""
    return workers / service_s


def harmonic(n: int) -> float:
    """The n-th harmonic number H_n = 1 + 1/2 + ... + 1/n (H_0 = 0)."""
    return sum(1.0 / k for k in range(1, n + 1))


def burst_drain_fixed(burst: int, workers: int, service_s: float) -> float:
    """Time to clear B jobs of fixed length S on N servers: ceil(B/N) * S."""
    return math.ceil(burst / workers) * service_s


def burst_drain_exponential(burst: int, workers: int, service_s: float) -> float:
    """Expected time to clear B exponential jobs (mean S) on N servers.

    While a queue remains, completions come at rate N/S, then the last N finish like the
    maximum of N exponentials: (B - N) S / N + H_N S. With B <= N it is H_B S.
    """
    if burst <= 0:
        return 0.0
    if burst <= workers:
        return harmonic(burst) * service_s
    return (burst - workers) * service_s / workers + harmonic(workers) * service_s


def burst_drain_measured(burst: int, workers: int, service_s: float, cs2: float) -> float:
    """Expected time to clear B jobs of mean S and squared coefficient of variation cs2.

    While a queue remains, completions come at rate N/S; the last N then finish like the maximum
    of N service times, S (1 + (H_N - 1) cv): S for fixed service (cv 0), H_N S for exponential
    (cv 1), as :func:`burst_drain_fixed` and :func:`burst_drain_exponential` have them.
    """
    if burst <= 0:
        return 0.0
    last = min(burst, workers)
    tail = service_s * (1 + (harmonic(last) - 1) * math.sqrt(max(cs2, 0.0)))
    return max(burst - workers, 0) * service_s / workers + tail


def burst_finish_times_fixed(burst: int, workers: int, service_s: float) -> list[float]:
    """Finish time of each burst job (FIFO, 0-indexed i) with fixed S: (floor(i/N) + 1) * S."""
    return [(i // workers + 1) * service_s for i in range(burst)]


def burst_mean_latency(burst: int, workers: int, service_s: float, model: str = "fixed") -> float:
    """Mean latency of a burst's jobs; exponential job i >= N waits (i - N + 1) S / N on average."""
    if burst <= 0:
        return 0.0
    if model == "fixed":
        return sum(burst_finish_times_fixed(burst, workers, service_s)) / burst
    queued = max(burst - workers, 0)
    total_wait = service_s / workers * queued * (queued + 1) / 2
    return service_s + total_wait / burst


def burst_latency_percentile_fixed(
    burst: int, workers: int, service_s: float, percentile: float
) -> float:
    """Nearest-rank percentile (0-100) of burst latencies with fixed S."""
    times = burst_finish_times_fixed(burst, workers, service_s)
    rank = max(math.ceil(percentile / 100 * burst), 1)
    return times[rank - 1]


def erlang_b(servers: int, offered_load: float) -> float:
    """Erlang B blocking probability by the stable recursion B(k) = aB(k-1) / (k + aB(k-1))."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability an arrival waits in M/M/c with offered load a = lambda/mu (needs a < c)."""
    if offered_load >= servers:
        raise ValueError(f"unstable: offered load {offered_load:g} >= {servers} servers")
    rho = offered_load / servers
    blocking = erlang_b(servers, offered_load)
    return blocking / (1 - rho * (1 - blocking))


def wait_percentile(p_wait: float, decay_per_s: float, percentile: float) -> float:
    """Wait time t with P(W > t) = C e^-(N mu - lambda) t equal to 1 - percentile/100."""
    tail = 1 - percentile / 100
    if tail >= p_wait:
        return 0.0
    return math.log(p_wait / tail) / decay_per_s


def _steady(inputs: TheoryInputs, rate: float) -> dict[str, Any]:
    n, s = inputs.workers, inputs.service_s
    mu = 1 / s
    utilization = rate / (n * mu)
    if utilization >= 1:
        return {"utilization": utilization, "stable": False}
    p_wait = erlang_c(n, rate / mu)
    decay = n * mu - rate
    mmc_wait = p_wait / decay
    service_cs2 = {"exponential": 1.0, "measured": inputs.cs2}.get(inputs.service_model, 0.0)
    variability = ((1.0 if inputs.arrival_model == "poisson" else 0.0) + service_cs2) / 2
    mean_wait = mmc_wait * variability
    response = mean_wait + s
    return {
        "utilization": utilization,
        "stable": True,
        "p_wait": p_wait,
        "mean_wait_s": mean_wait,
        "wait_p99_s": wait_percentile(p_wait, decay, 99) if variability == 1 else None,
        "mean_response_s": response,
        # Lq = C rho / (1 - rho) straight from Erlang C; L = lambda W below is the cross-check.
        "mean_in_system": p_wait * utilization / (1 - utilization) * variability + rate * s,
        "littles_law_in_system": rate * response,
    }


def _burst(inputs: TheoryInputs, burst: int) -> dict[str, Any]:
    n, s, rate = inputs.workers, inputs.service_s, inputs.arrival_rate or 0.0
    exponential = inputs.service_model == "exponential"
    drain_of: Callable[[int, int, float], float] = (
        burst_drain_exponential if exponential else burst_drain_fixed
    )
    if inputs.service_model == "measured":
        drain_of = functools.partial(burst_drain_measured, cs2=inputs.cs2)

    fields: dict[str, Any] = {
        "burst_mean_latency_s": burst_mean_latency(
            burst, n, s, "exponential" if exponential else "fixed"
        )
    }
    if inputs.service_model == "fixed":
        fields["burst_p50_latency_s"] = burst_latency_percentile_fixed(burst, n, s, 50)
        fields["burst_p99_latency_s"] = burst_latency_percentile_fixed(burst, n, s, 99)
    extra = 0
    if rate:
        base_load = rate * s / n
        if base_load >= 1:
            return {**fields, "burst_drain_s": None}
        fluid = drain_of(burst, n, s) / (1 - base_load)
        window = fluid if inputs.base_window_s is None else min(fluid, inputs.base_window_s)
        extra = round(rate * window)
    return {**fields, "burst_drain_s": drain_of(burst + extra, n, s)}


def predict(inputs: TheoryInputs) -> Theory:
    """All predictions that apply to the inputs.

    Base traffic arriving during a burst's drain joins its queue: rate x the shorter of the
    fluid drain (B S / N) / (1 - rho_base) and ``base_window_s``, the time it keeps arriving.
    """
    fields: dict[str, Any] = {}
    if inputs.arrival_rate:
        fields.update(_steady(inputs, inputs.arrival_rate))
    if inputs.burst_size:
        fields.update(_burst(inputs, inputs.burst_size))
    n, s = inputs.workers, inputs.service_s
    return Theory(workers=n, service_s=s, capacity_per_s=capacity(n, s), **fields)


def theory_inputs(
    scenario: Scenario, workers: int, service_s: float, cs2: float | None = None
) -> TheoryInputs:
    """Inputs for a scenario run: exponential service only if every job in the mix is; with
    ``cs2`` (a user's task) the variability its probes measured."""
    exponential = all(job.distribution == "exponential" for job in scenario.jobs)
    arrival = scenario.arrival
    rate, model, burst, window = None, "poisson", None, None
    if isinstance(arrival, (SteadyArrival, PoissonArrival)):
        rate, model = arrival.rate, "paced" if isinstance(arrival, SteadyArrival) else "poisson"
    elif isinstance(arrival, BurstArrival):
        rate, model, burst = arrival.base_rate or None, arrival.process, arrival.size
        window = arrival.duration_s - arrival.at_s
    return TheoryInputs(
        workers=workers,
        service_s=service_s,
        service_model="measured" if cs2 is not None else "exponential" if exponential else "fixed",
        cs2=cs2 or 0.0,
        arrival_model=model,
        burst_size=burst,
        arrival_rate=rate,
        base_window_s=window,
    )


def deviation(predicted: float, measured: float) -> float:
    """Relative deviation (measured - predicted) / predicted; NaN when predicted is 0."""
    if predicted == 0:
        return math.nan
    return (measured - predicted) / predicted


def is_flagged(dev: float, tolerance: float = DEVIATION_TOLERANCE) -> bool:
    """True when a deviation exceeds the tolerance (or could not be computed)."""
    return math.isnan(dev) or abs(dev) > tolerance
