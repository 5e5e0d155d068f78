"""The queue replay: a run's jobs, first come first served on its servers, with a band.

Each job arrives at its time, waits for the server that is free first (a server serves from its
ready time and starts no job at or after its stop time), and keeps it for a service time drawn
from a :class:`~burstlab.experiments.model.service.ServiceModel`. Repeated draws (200 by
default, vectorised over the replays: one step per job, NumPy over the replays and servers)
give every figure a report shows as a median and a 5-95 % band: drain, mean, p50 and p99
latency, peak backlog (waiting, and in the system) and worker-seconds. No closed-form
assumption: the arrivals, the service times and the servers are the run's own. Pure: no clock,
no I/O; one seed gives one answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import numpy.typing as npt

from burstlab.experiments.model.service import FloatArray, ServiceModel

REPLAYS = 200
"""Draws per prediction: enough for a steady 5-95 % band."""
BAND = (5.0, 95.0)
"""The band's percentiles over the replays."""


@dataclass(frozen=True)
class Servers:
    """The servers over time: each one's ready time and, optionally, its stop time (seconds).

    A server serves from its ready time; it starts no job at or after its stop time (a job it
    is running then runs to the end, as a worker's warm shutdown does).
    """

    ready_s: tuple[float, ...]
    stop_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.ready_s:
            raise ValueError("no servers: a replay needs at least one")
        if any(not math.isfinite(t) or t < 0 for t in self.ready_s):
            raise ValueError(f"server ready times must be finite and >= 0, got {self.ready_s}")
        if self.stop_s and len(self.stop_s) != len(self.ready_s):
            raise ValueError(f"{len(self.stop_s)} stop times for {len(self.ready_s)} servers")
        pairs = zip(self.ready_s, self.stop_s, strict=True)
        if self.stop_s and all(stop <= ready for ready, stop in pairs):
            raise ValueError("no server ever serves: every stop time is at or before its ready")

    @classmethod
    def fixed(cls, count: int) -> Servers:
        """``count`` servers ready from time 0, never stopping."""
        if count < 1:
            raise ValueError(f"a replay needs at least one server, got {count}")
        return cls((0.0,) * count)

    @property
    def count(self) -> int:
        """How many servers serve at some time."""
        return len(self.ready_s)

    def stops(self) -> FloatArray:
        """Each server's stop time, infinity where it has none."""
        return np.asarray(self.stop_s or (math.inf,) * self.count, dtype=float)


@dataclass(frozen=True, eq=False)
class Workload:
    """A run's jobs: when each reached the queue, and what its figures are measured from.

    ``arrivals_s`` (>= 0) are when jobs reach the queue; ``intended_s`` what latency counts
    from (default: the arrivals); ``job_s`` each job's own run time (None: drawn from the
    service model); ``counted`` the jobs the mean covers (default: all); ``origin_s`` what
    the drain counts from (default: the first arrival).
    """

    arrivals_s: FloatArray
    intended_s: FloatArray | None = None
    job_s: FloatArray | None = None
    counted: npt.NDArray[np.bool_] | None = None
    origin_s: float | None = None
    quantiled: npt.NDArray[np.bool_] | None = None
    """The jobs the percentiles cover (default: all); the others still queue."""
    drained: npt.NDArray[np.bool_] | None = None
    """The jobs the drain covers (default: all): it ends with the last of them to finish."""
    arriving_until_s: float | None = None
    """Until when the burst arrives: a job that waited and starts before it is handed over at
    the service model's cost while jobs arrive (default: never)."""

    def __post_init__(self) -> None:
        arrivals = self.arrivals_s
        if arrivals.ndim != 1 or len(arrivals) == 0:
            raise ValueError("a replay needs at least one job's arrival time")
        for name in ("arrivals_s", "intended_s", "job_s"):
            values = getattr(self, name)
            if values is None:
                continue
            if len(values) != len(arrivals):
                raise ValueError(f"{name} has {len(values)} values for {len(arrivals)} jobs")
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise ValueError(f"{name}: times must be finite and >= 0")
        drained = self.drained
        if drained is not None and (len(drained) != len(arrivals) or not drained.any()):
            raise ValueError("drained must mark at least one of the jobs, one flag per job")

    @classmethod
    def of(
        cls,
        arrivals_s: Sequence[float],
        *,
        intended_s: Sequence[float] | None = None,
        job_s: Sequence[float] | None = None,
        counted: Sequence[bool] | None = None,
        origin_s: float | None = None,
        quantiled: Sequence[bool] | None = None,
        drained: Sequence[bool] | None = None,
        arriving_until_s: float | None = None,
    ) -> Workload:
        """A workload from plain sequences."""

        def array(values: Sequence[float] | None) -> FloatArray | None:
            return None if values is None else np.asarray(values, dtype=float)

        return cls(
            np.asarray(arrivals_s, dtype=float),
            array(intended_s),
            array(job_s),
            None if counted is None else np.asarray(counted, dtype=bool),
            origin_s,
            None if quantiled is None else np.asarray(quantiled, dtype=bool),
            None if drained is None else np.asarray(drained, dtype=bool),
            arriving_until_s,
        )


@dataclass(frozen=True, eq=False)
class Replay:
    """Every job's start and finish in each replay, shape (replays, jobs), in workload order,
    and each replay's figures, shape (replays,)."""

    start_s: FloatArray
    finish_s: FloatArray
    drain_s: FloatArray
    mean_s: FloatArray
    p50_s: FloatArray
    p99_s: FloatArray
    peak_waiting: FloatArray
    peak_in_system: FloatArray
    worker_seconds: FloatArray
    quantiled_s: FloatArray
    """The latencies the percentiles read, (replays, quantiled jobs)."""


FIGURES = tuple(
    f.name for f in fields(Replay) if f.name not in ("start_s", "finish_s", "quantiled_s")
)


@dataclass(frozen=True)
class Band:
    """A figure over the replays: its median and its 5-95 % band."""

    median: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the band (ends included)."""
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Prediction:
    """Every figure's band over ``replays`` draws."""

    replays: int
    seed: int
    bands: dict[str, Band] = field(default_factory=dict)
    latencies_s: FloatArray | None = field(default=None, repr=False, compare=False)
    """Every replay's latencies the percentiles read, pooled and sorted (not written out)."""

    def rank(self, latency_s: float) -> float | None:
        """Which percentile of the replayed latencies ``latency_s`` is (0-100; None without
        them): a measured p50 that is the replay's p52 is off by two points of rank, however
        far its value is where the latencies climb steeply."""
        if self.latencies_s is None or not len(self.latencies_s):
            return None
        below = np.searchsorted(self.latencies_s, latency_s, side="left")
        upto = np.searchsorted(self.latencies_s, latency_s, side="right")
        return float((below + upto) / 2 / len(self.latencies_s) * 100)

    def to_dict(self) -> dict[str, object]:
        """Plain dict for summary.json."""
        return {"replays": self.replays, "seed": self.seed} | {
            name: asdict(band) for name, band in self.bands.items()
        }


def fcfs(
    arrivals_s: FloatArray,
    service_s: FloatArray,
    servers: Servers,
    idle_service_s: FloatArray | None = None,
    arriving: tuple[FloatArray, float] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Start and finish times of jobs in arrival order (``arrivals_s`` sorted), one row per
    replay, and when each server is free at the end (its last finish, or its ready time if it
    ran none).

    Each job takes the server that lets it start first; ``service_s`` is (replays, jobs). With
    ``idle_service_s`` a job that starts the moment it arrives (it found a server free) takes
    that service time instead, a job that waited ``service_s``; with ``arriving`` (service
    times, until when) a job that waited and starts before that time takes those. Raises
    ValueError when a job finds every server stopped.
    """
    replays, jobs = service_s.shape
    free = np.tile(np.asarray(servers.ready_s, dtype=float), (replays, 1))
    stops = servers.stops()
    timed = bool(np.isfinite(stops).any())
    rows = np.arange(replays)
    starts = np.empty((replays, jobs))
    finishes = np.empty((replays, jobs))
    for j in range(jobs):
        arrival = arrivals_s[j]
        if timed:
            candidates = np.maximum(free, arrival)
            candidates[candidates >= stops] = math.inf
            chosen = candidates.argmin(axis=1)
            start = candidates[rows, chosen]
            if not np.all(np.isfinite(start)):
                raise ValueError(f"the job arriving at {arrival:.3f} s finds every server stopped")
        else:
            chosen = free.argmin(axis=1)
            start = np.maximum(free[rows, chosen], arrival)
        service = service_s[:, j]
        if arriving is not None:
            service = np.where(start < arriving[1], arriving[0][:, j], service)
        if idle_service_s is not None:
            service = np.where(start > arrival, service, idle_service_s[:, j])
        starts[:, j] = start
        finishes[:, j] = free[rows, chosen] = start + service
    return starts, finishes, free


def replay(
    workload: Workload,
    service: ServiceModel,
    servers: Servers,
    *,
    replays: int = 1,
    seed: int = 0,
) -> Replay:
    """Replay ``workload`` ``replays`` times through ``servers`` with draws of ``service``."""
    if replays < 1:
        raise ValueError(f"replays must be >= 1, got {replays}")
    rng = np.random.default_rng(seed)
    order = np.argsort(workload.arrivals_s, kind="stable")
    arrivals = workload.arrivals_s[order]
    job_s = None if workload.job_s is None else workload.job_s[order]
    draws = service.draw_states(rng, replays, len(arrivals), job_s)
    until = workload.arriving_until_s
    arriving = None if draws.arriving is None or until is None else (draws.arriving, until)
    starts, finishes, free = fcfs(arrivals, draws.loaded, servers, draws.idle, arriving)
    start_s, finish_s = np.empty_like(starts), np.empty_like(finishes)
    start_s[:, order], finish_s[:, order] = starts, finishes
    # The caller has a job's answer when it is back (sync: the HTTP reply); its server is free
    # from the finish.
    answered = finishes if draws.answer is None else finishes + draws.answer
    end_s = finish_s
    if draws.answer is not None:
        end_s = np.empty_like(answered)
        end_s[:, order] = answered
    intended = workload.arrivals_s if workload.intended_s is None else workload.intended_s
    latency = end_s - intended
    counted = workload.counted if workload.counted is not None else slice(None)
    origin = float(arrivals[0]) if workload.origin_s is None else workload.origin_s
    last = finishes.max(axis=1)
    drained = workload.drained
    drain_end = answered.max(axis=1) if drained is None else end_s[:, drained].max(axis=1)
    quantiled = latency if workload.quantiled is None else latency[:, workload.quantiled]
    p50, p99 = _percentiles(quantiled, (50.0, 99.0))
    return Replay(
        start_s=start_s,
        finish_s=finish_s,
        drain_s=drain_end - origin,
        mean_s=latency[:, counted].mean(axis=1),
        p50_s=p50,
        p99_s=p99,
        peak_waiting=_peak(arrivals, starts),
        peak_in_system=_peak(arrivals, np.sort(answered, axis=1)),
        worker_seconds=_worker_seconds(servers, last, free),
        quantiled_s=quantiled,
    )


def predict(
    workload: Workload,
    service: ServiceModel,
    servers: Servers,
    *,
    replays: int = REPLAYS,
    seed: int = 0,
) -> Prediction:
    """Each figure's median and 5-95 % band over ``replays`` draws; a percentile's band also
    covers the ranks a percentile of that many jobs falls at (:func:`rank_interval`)."""
    result = replay(workload, service, servers, replays=replays, seed=seed)
    bands = {}
    for name in FIGURES:
        low, median, high = np.percentile(getattr(result, name), [BAND[0], 50.0, BAND[1]])
        bands[name] = Band(float(median), float(low), float(high))
    jobs = result.quantiled_s.shape[1]
    for name, quantile in PERCENTILES.items():
        lower, upper = _percentiles(result.quantiled_s, rank_interval(quantile, jobs))
        band = bands[name]
        low = min(band.low, float(np.percentile(lower, BAND[0])))
        high = max(band.high, float(np.percentile(upper, BAND[1])))
        bands[name] = Band(band.median, low, high)
    return Prediction(replays, seed, bands, np.sort(result.quantiled_s, axis=None))


PERCENTILES = {"p50_s": 50.0, "p99_s": 99.0}
"""The percentile figures and their percentile."""
Z_BAND = 1.645
"""The normal quantile of the band's ends (5 % and 95 %)."""


def rank_interval(quantile: float, jobs: int) -> tuple[float, float]:
    """The percentiles between which the ``quantile`` of ``jobs`` measured latencies falls 90 %
    of the time (the normal approximation of the binomial interval of an order statistic):
    p50 of 200 jobs lies between the p44.2 and the p55.8 of their distribution, p99 of 200
    between the p97.8 and the p100. A measured percentile is one such draw: where latencies
    climb steeply with rank (the end of an autoscaled burst's backlog) a few jobs on the other
    side of the median move its value by tens of percent, and its band says so."""
    share = quantile / 100
    spread = Z_BAND * math.sqrt(share * (1 - share) / max(jobs, 1)) * 100
    return max(quantile - spread, 0.0), min(quantile + spread, 100.0)


def _percentiles(values: FloatArray, percentiles: Sequence[float]) -> list[FloatArray]:
    """Per row, each percentile as HdrHistogram reads one (the measured figures are): the
    value of rank max(round(p/100 n), 1) in the sorted row."""
    jobs = values.shape[1]
    ranks = [max(int(p / 100 * jobs + 0.5), 1) - 1 for p in percentiles]
    parted = np.partition(values, sorted(set(ranks)), axis=1)
    return [parted[:, rank] for rank in ranks]


def _peak(arrivals: FloatArray, leaving: FloatArray) -> FloatArray:
    """Per replay, the most jobs that had arrived and not yet left (``leaving`` sorted per row).

    The count only rises at an arrival, so it is read just after each one; a job leaving at
    the instant another arrives has left (as the measured backlog counts a hand-over).
    """
    replays, jobs = leaving.shape
    arrived = np.searchsorted(arrivals, arrivals, side="right")
    # One searchsorted for every replay: each row shifted past the one before it.
    low = min(float(arrivals[0]), float(leaving.min()))
    span = max(float(arrivals[-1]), float(leaving.max())) - low + 1.0
    shift = (np.arange(replays) * span)[:, None]
    keys = (leaving - low + shift).ravel()
    queries = arrivals[None, :] - low + shift
    left = np.searchsorted(keys, queries.ravel(), side="right").reshape(replays, jobs)
    left -= (np.arange(replays) * jobs)[:, None]
    return (arrived[None, :] - left).max(axis=1).astype(float)


def _worker_seconds(servers: Servers, last_finish: FloatArray, free: FloatArray) -> FloatArray:
    """Per replay, the server-seconds paid: each server from its ready time to its stop time
    (or the run's last finish when it has none, or sooner), or its own last finish if later."""
    ready = np.asarray(servers.ready_s, dtype=float)[None, :]
    end = np.maximum(np.minimum(servers.stops()[None, :], last_finish[:, None]), free)
    return np.clip(end - ready, 0.0, None).sum(axis=1)
