"""The service-time model a replay draws from: what one job costs a server, job by job.

A job's service time is its own run time plus the pipeline's per-job overhead on its side. The
run time is the job's own (burstlab's ``io`` and ``cpu`` jobs: the duration the schedule gave
it) or, when the job's time is not known in advance (a user's task), a draw from the run times
the probes measured. The overhead is a draw from the probes' hand-over times of the side being
predicted, so a sync and an async prediction share one run-time distribution and differ only by
what the probes measured of each pipeline. It has two measured states: a job that waited in
the queue is handed over at a saturated pipeline's cost (the load probe's, ``overhead_s``), a
job that found a server free as a lone job is (the sequential probes', ``idle_overhead_s``):
on two shared cores the first can be several times the second. A third, measured only where the
hand-over outweighs the job (``arriving_overhead_s``), is a waiting job's while the burst still
arrives: the producer taking jobs in on the same cores slows every hand-over of the pipeline.

Each replay first resamples every measured set with replacement (the bootstrap), then draws
each job's value from that resample: the spread of the replays then covers both the job-to-job
variation and how well a few probes pin the distribution down. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ServiceModel:
    """Measured samples (seconds) a job's service time is drawn from.

    ``run_s``: the run times of a job whose time is not known in advance (empty: each job
    brings its own); ``overhead_s``: the pipeline's per-job hand-over on this side under load
    (empty: none); ``idle_overhead_s``: the hand-over of a job that finds a server free (empty:
    the same as under load); ``arriving_overhead_s``: the per-job cost beyond the job's run of
    a job that waited while the burst still arrives (empty: the same as under load);
    ``answer_s``: from a job's finish to its caller having the answer, the sync side's HTTP
    reply on its way back through the producer (empty: none; the server is free meanwhile).
    """

    run_s: tuple[float, ...] = ()
    overhead_s: tuple[float, ...] = ()
    idle_overhead_s: tuple[float, ...] = ()
    arriving_overhead_s: tuple[float, ...] = ()
    answer_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name in ("run_s", "overhead_s", "idle_overhead_s", "arriving_overhead_s", "answer_s"):
            values = getattr(self, name)
            if any(not math.isfinite(v) or v < 0 for v in values):
                raise ValueError(f"{name}: service samples must be finite and >= 0")

    @classmethod
    def fixed(cls, service_s: float) -> ServiceModel:
        """Every job takes exactly ``service_s``."""
        return cls(run_s=(service_s,))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceModel:
        """The model as :meth:`to_dict` wrote it."""
        return cls(
            tuple(data.get("run_s") or ()),
            tuple(data.get("overhead_s") or ()),
            tuple(data.get("idle_overhead_s") or ()),
            tuple(data.get("arriving_overhead_s") or ()),
            tuple(data.get("answer_s") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for summary.json, with the means a reader looks for."""
        return {
            "run_s": list(self.run_s),
            "overhead_s": list(self.overhead_s),
            "run_mean_ms": _mean_ms(self.run_s),
            "overhead_mean_ms": _mean_ms(self.overhead_s),
            "idle_overhead_s": list(self.idle_overhead_s),
            "idle_overhead_mean_ms": _mean_ms(self.idle_overhead_s),
            "arriving_overhead_s": list(self.arriving_overhead_s),
            "arriving_overhead_mean_ms": _mean_ms(self.arriving_overhead_s),
            "answer_s": list(self.answer_s),
            "answer_mean_ms": _mean_ms(self.answer_s),
        }

    @property
    def overhead_mean_s(self) -> float:
        """The mean per-job overhead (0 without samples)."""
        return _mean(self.overhead_s)

    def mean_s(self, job_s: Sequence[float] | None = None) -> float:
        """The mean service time of the jobs (``job_s``: each job's own run time)."""
        run = statistics.fmean(job_s) if job_s else _mean(self.run_s)
        return run + _mean(self.overhead_s)

    def draw_states(
        self, rng: np.random.Generator, replays: int, jobs: int, job_s: FloatArray | None = None
    ) -> ServiceDraws:
        """Each job's service time in each of its measured states, shape (replays, jobs), one
        run time per job shared by them.

        ``job_s`` gives each job's own run time; without it the run time is drawn from
        ``run_s``, which must then hold at least one sample.
        """
        if job_s is not None:
            if len(job_s) != jobs:
                raise ValueError(f"job_s has {len(job_s)} values for {jobs} jobs")
            run = np.broadcast_to(np.asarray(job_s, dtype=float), (replays, jobs)).copy()
        elif self.run_s:
            run = _bootstrap(rng, self.run_s, replays, jobs)
        else:
            raise ValueError("no run time: give each job's own or measured run_s samples")

        def plus(samples: tuple[float, ...]) -> FloatArray | None:
            return run + _bootstrap(rng, samples, replays, jobs) if samples else None

        loaded = plus(self.overhead_s)
        answer = _bootstrap(rng, self.answer_s, replays, jobs) if self.answer_s else None
        return ServiceDraws(
            run if loaded is None else loaded,
            plus(self.idle_overhead_s),
            plus(self.arriving_overhead_s),
            answer,
        )


@dataclass(frozen=True, eq=False)
class ServiceDraws:
    """One draw of every job's service time per state, each shape (replays, jobs)."""

    loaded: FloatArray
    """A job that waited in the queue."""
    idle: FloatArray | None
    """A job that found a server free (None: as ``loaded``)."""
    arriving: FloatArray | None
    """A job that waited while the burst still arrived (None: as ``loaded``)."""
    answer: FloatArray | None = None
    """From each job's finish to its caller having the answer (None: at once)."""


def _bootstrap(
    rng: np.random.Generator, samples: Sequence[float], replays: int, jobs: int
) -> FloatArray:
    """Per replay, a resample of ``samples`` with replacement; each job a draw from it."""
    values = np.asarray(samples, dtype=float)
    if len(values) == 1 or np.all(values == values[0]):
        return np.full((replays, jobs), values[0])
    resampled = values[rng.integers(len(values), size=(replays, len(values)))]
    picks = rng.integers(len(values), size=(replays, jobs))
    return np.take_along_axis(resampled, picks, axis=1)


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _mean_ms(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) * 1000 if values else None
