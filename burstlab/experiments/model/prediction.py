"""A run's two replay predictions, planned and replayed, and the checks against what it measured.

*Planned*: every job of the seeded schedule at its intended send time, through the servers with
the probe's service times: what the run should give before it is sent. *Replayed*: the jobs
the service took, at the times the generator actually sent them, through the same servers and
the same service model: what the pipeline should have done with the load it really got. The
deviation of each figure is read from the replayed prediction; a figure outside the replayed
band (by more than an absolute and a relative floor) is flagged, and the check says
whether the planned prediction was off too (the arrivals differed from the plan) or only the
replayed one (the pipeline did something the model does not count).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from burstlab.experiments.model.records import JobRow
from burstlab.experiments.model.replay import Band, Prediction, Servers, Workload, predict
from burstlab.experiments.model.service import ServiceModel
from burstlab.experiments.model.theory import deviation

TAKEN = ("succeeded", "failed", "lost")
"""Outcomes of jobs the service took on: the ones a worker ran or should have run."""
TIME_FLOOR_S = 0.010
"""A time figure this close to its band (or prediction) is not flagged: 4 ms against 0.1 ms
is 40x off and means nothing."""
BACKLOG_FLOOR = 5.0
"""A peak backlog within this many jobs of its band is not flagged."""
RELATIVE_FLOOR = 0.05
"""Nor is a figure within this fraction of its prediction beyond its band's end: the band holds
what the probes measured, not the few percent a run's own load adds on shared cores (the
producer and the generator taking CPU from the workers during a burst); a figure outside its
band by less is reported as such (``in_band``), not flagged."""
RANK_TOLERANCE = 0.05
"""A percentile is not flagged when the measured value is the replay's percentile within this
fraction of the way to the nearer end (p50: p47.5-p52.5; p99: p98.95-p99.05): where the
latencies climb steeply with rank, as at the end of an autoscaled burst's backlog, a few jobs
on the other side of the median move its value by tens of percent."""
QUANTILES = {"p50_s": 50.0, "p99_s": 99.0}
RESOLUTION = 1e-5
"""Within this of a band's end counts as inside: 10 us, below what epoch-second floats keep."""


@dataclass(frozen=True)
class ReplayInputs:
    """What a run's replay needs besides its rows: the servers and the service-time model.

    With no measured run times (``service.run_s`` empty) each job runs for its own
    ``duration_ms`` (burstlab's ``io`` and ``cpu`` jobs; ``cpu`` on min(N, cores) servers).
    """

    servers: int
    service: ServiceModel
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for summary.json."""
        return {"servers": self.servers, "seed": self.seed, "service": self.service.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplayInputs:
        """The inputs as :meth:`to_dict` wrote them."""
        service = ServiceModel.from_dict(dict(data["service"]))
        return cls(int(data["servers"]), service, int(data.get("seed", 0)))


@dataclass(frozen=True)
class FigureCheck:
    """One measured figure beside the replayed prediction's median and band."""

    predicted: float
    low: float
    high: float
    measured: float
    deviation: float
    in_band: bool
    flagged: bool
    planned: float
    planned_in_band: bool
    cause: str | None
    """"pipeline" when flagged (the replayed prediction is off: the pipeline did something the
    model does not count); "arrivals" when only the planned one is off (the generator did not
    send the plan); None when neither is."""
    rank: float | None = None
    """A percentile's measured value as a percentile of the replayed latencies."""
    steep: bool = False
    """Off by more than the tolerance in value but within :data:`RANK_TOLERANCE` in rank."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for summary.json."""
        return asdict(self)


def workloads(
    rows: Sequence[JobRow], own_times: bool, drain_until: float | None = None
) -> tuple[Workload, Workload] | None:
    """The planned and the replayed workload of one run's rows (None without a job taken).

    Times are offsets from the run's first intended send; the drain counts from the first
    intended burst send, as the measured drain does. ``own_times``: each job runs for its own
    ``duration_ms`` (else the service model draws its run time). ``drain_until`` (epoch
    seconds): the drain ends with the last job intended by then (an autoscaled run's burst
    drain; the load after it does not count), else with the last job.
    """
    if not rows:
        return None
    origin = origin_of(rows)
    has_burst = any(r.in_burst for r in rows)
    burst_start = min((r.intended for r in rows if r.in_burst), default=origin) - origin

    def workload(jobs: Sequence[JobRow], sent: bool) -> Workload:
        arrivals = [max((r.sent if sent else r.intended) - origin, 0.0) for r in jobs]
        burst = [at for at, r in zip(arrivals, jobs, strict=True) if r.in_burst]
        return Workload.of(
            arrivals,
            intended_s=[r.intended - origin for r in jobs],
            job_s=[r.duration_ms / 1000 for r in jobs] if own_times else None,
            counted=[r.in_burst for r in jobs] if has_burst else None,
            origin_s=burst_start,
            drained=None if drain_until is None else [r.intended <= drain_until for r in jobs],
            arriving_until_s=max(burst) if burst else None,
        )

    taken = [r for r in rows if r.outcome in TAKEN]
    if not taken:
        return None
    return workload(rows, sent=False), workload(taken, sent=True)


def replica_servers(
    initial: int, concurrency: int, ready_s: Sequence[float], stop_s: Sequence[float]
) -> Servers:
    """The servers of a scaled run, from its replicas as they really came and went.

    ``initial`` replicas serve from the start; each further one from its ready time, each stop
    time ends the newest replica still serving (a scale-down stops the newest first). Times are
    offsets (seconds) from the run's origin; each replica is ``concurrency`` servers.
    """
    replicas = [[0.0, math.inf] for _ in range(initial)]
    serving = list(range(initial))
    events = sorted([(t, 1) for t in ready_s] + [(t, 0) for t in stop_s])
    for at, starts in events:
        if starts:
            replicas.append([max(at, 0.0), math.inf])
            serving.append(len(replicas) - 1)
        elif serving:
            replicas[serving.pop()][1] = max(at, 0.0)
    ready = tuple(r for r, _ in replicas for _ in range(concurrency))
    stops = tuple(s for _, s in replicas for _ in range(concurrency))
    return Servers(ready, stops if any(math.isfinite(x) for x in stops) else ())


def origin_of(rows: Sequence[JobRow]) -> float:
    """What a run's replay counts time from: its first intended send (epoch seconds)."""
    return min(r.intended for r in rows)


def run_prediction(
    rows: Sequence[JobRow],
    mode: str,
    inputs: ReplayInputs,
    measured: Mapping[str, float | None],
    servers: Servers | None = None,
    drain_until: float | None = None,
) -> dict[str, Any]:
    """summary.json's ``prediction`` of one run: inputs, both predictions, the checks.

    ``measured`` holds the run's ``drain_s``, ``mean_s``, ``p50_s``, ``p99_s`` and
    ``peak_backlog``; each present one is checked against the replayed band. ``servers``: the
    replicas as they came and went (:func:`replica_servers`), else ``inputs.servers`` fixed;
    ``drain_until``: see :func:`workloads`.
    """
    pair = workloads(rows, own_times=not inputs.service.run_s, drain_until=drain_until)
    section: dict[str, Any] = {"inputs": inputs.to_dict(), "planned": None, "replayed": None}
    if pair is None:
        return section | {"checks": {}}
    servers = servers or Servers.fixed(inputs.servers)
    planned, replayed = (predict(load, inputs.service, servers, seed=inputs.seed) for load in pair)
    section["planned"] = planned.to_dict()
    section["replayed"] = replayed.to_dict()
    section["bound"] = bound_by(pair[1], inputs.service, replayed.bands["drain_s"].median)
    section["hand_over_bound"] = hand_over_bound(pair[1], inputs.service)
    # A sync job waits holding its connection: its backlog is every job not yet answered.
    backlog = "peak_in_system" if mode == "sync" else "peak_waiting"
    names = {
        "drain_s": "drain_s",
        "mean_s": "mean_s",
        "p50_s": "p50_s",
        "p99_s": "p99_s",
        "peak_backlog": backlog,
    }
    checks = {}
    for name, figure in names.items():
        value = measured.get(name)
        if value is None:
            continue
        checks[name] = check_figure(name, float(value), replayed, planned, figure).to_dict()
    return section | {"checks": checks}


EXCESS_SIGMAS = 3.0
"""A side's run of the same payload lines counts as systematically longer than the other's
when the mean of the paired differences exceeds this many standard errors."""


def share_run_times(
    runs: Sequence[tuple[Sequence[JobRow], dict[str, Any]]],
) -> tuple[float, ...]:
    """Predict each run of a user's task from one run-time distribution: the sides' probes of
    the same payload lines pooled, each side keeping its own per-job overhead, so the two
    predictions differ only by what really differs between the pipelines.

    A probe that ended otherwise on one side than on the other (a Celery time limit cuts a slow
    payload on the workers only, while the sync side runs it to the end) keeps each side's own
    run time, weighted as a pooled one is. Where one side ran the same lines systematically
    longer (:func:`run_excess`: the workers' run of a task includes Celery's trace and the
    app's result backend, which the sync side's bare call does not), that excess is its
    pipeline's: taken off its run times before pooling and added to each of its per-job
    overheads (``run_excess_s``). Runs without measured run times are left as they are;
    probes of different lines are pooled whole. Returns the run times every side shares
    (empty when none)."""
    sides = [(rows, summary, _run_s(summary)) for rows, summary in runs]
    sides = [(rows, summary, run_s) for rows, summary, run_s in sides if run_s]
    if not sides:
        return ()
    probes = [summary.get("probe") or {} for _, summary, _ in sides]
    outcomes = [p.get("run_outcomes") or [] for p in probes]
    same_lines = len({tuple(p.get("lines") or ()) for p in probes}) == 1 and all(
        len(o) == len(run_s) for o, (_, _, run_s) in zip(outcomes, sides, strict=True)
    )
    excess = [0.0 for _ in sides]
    if not same_lines:  # nothing to pair line by line: pool them whole
        shared = tuple(t for _, _, run_s in sides for t in run_s)
        own: list[tuple[float, ...]] = [() for _ in sides]
    else:
        agree = [len({o[i] for o in outcomes}) == 1 for i in range(len(outcomes[0]))]
        paired = [[t for t, ok in zip(run_s, agree, strict=True) if ok] for _, _, run_s in sides]
        excess = run_excess(paired)
        shared = tuple(
            max(t - extra, 0.0) for ts, extra in zip(paired, excess, strict=True) for t in ts
        )
        own = [
            tuple(t for t, ok in zip(run_s, agree, strict=True) if not ok) * len(sides)
            for _, _, run_s in sides
        ]
    if not shared:  # every line ran its own way on some side: nothing in common
        return ()
    for (rows, summary, _), extra, more in zip(sides, own, excess, strict=True):
        section = summary["prediction"]
        inputs = ReplayInputs.from_dict(section["inputs"])
        service = inputs.service
        model = replace(
            inputs,
            service=replace(
                service,
                run_s=shared + extra,
                overhead_s=_plus(service.overhead_s, more),
                idle_overhead_s=_plus(service.idle_overhead_s, more),
                arriving_overhead_s=_plus(service.arriving_overhead_s, more),
            ),
        )
        measured = {name: check["measured"] for name, check in section.get("checks", {}).items()}
        summary["prediction"] = run_prediction(
            [r for r in rows if r.mode == summary["mode"]], summary["mode"], model, measured
        )
        summary["prediction"]["own_run_s"] = list(extra[: len(extra) // len(sides)])
        summary["prediction"]["run_excess_s"] = more
    return shared


def run_excess(paired: Sequence[Sequence[float]]) -> list[float]:
    """Per side, how much longer its runs of the same lines (``paired``: one list per side,
    line by line) took than the quickest side's, where that is systematic: the mean of the
    line-by-line differences beyond :data:`EXCESS_SIGMAS` standard errors (else 0)."""
    if len(paired) < 2 or len(paired[0]) < 2:
        return [0.0 for _ in paired]
    base = min(range(len(paired)), key=lambda i: math.fsum(paired[i]))
    excess = []
    for side in paired:
        diffs = np.asarray(side, dtype=float) - np.asarray(paired[base], dtype=float)
        mean = float(diffs.mean())
        error = float(diffs.std(ddof=1)) / math.sqrt(len(diffs))
        excess.append(mean if mean > EXCESS_SIGMAS * error else 0.0)
    return excess


def _plus(samples: tuple[float, ...], extra: float) -> tuple[float, ...]:
    return tuple(t + extra for t in samples) if extra else samples


def _run_s(summary: Mapping[str, Any]) -> tuple[float, ...]:
    section = summary.get("prediction") or {}
    return tuple(((section.get("inputs") or {}).get("service") or {}).get("run_s") or ())


def step_prediction(
    rows: Sequence[JobRow],
    measured_from: float,
    inputs: ReplayInputs,
    measured: Mapping[str, float | None],
) -> dict[str, Any]:
    """A sweep step replayed: its jobs at their intended times (planned) and at the times they
    were sent (replayed), the warm-up jobs (intended before ``measured_from``) queued but not
    counted; ``measured``'s ``mean_s``, ``p50_s`` and ``p99_s`` checked against the replayed
    band. The replayed prediction is for the load the step really offered, not the planned
    rate a short window of a Poisson process misses by chance."""
    own = not inputs.service.run_s
    taken = [r for r in rows if r.outcome in TAKEN]
    section: dict[str, Any] = {"planned": None, "replayed": None, "checks": {}}
    if not taken or not any(r.intended >= measured_from for r in taken):
        return section
    origin = min(r.intended for r in rows)

    def workload(jobs: Sequence[JobRow], sent: bool) -> Workload:
        counted = [r.intended >= measured_from for r in jobs]
        return Workload.of(
            [max((r.sent if sent else r.intended) - origin, 0.0) for r in jobs],
            intended_s=[r.intended - origin for r in jobs],
            job_s=[r.duration_ms / 1000 for r in jobs] if own else None,
            counted=counted,
            quantiled=counted,
        )

    servers = Servers.fixed(inputs.servers)
    planned, replayed = (
        predict(workload(jobs, sent), inputs.service, servers, seed=inputs.seed)
        for jobs, sent in ((rows, False), (taken, True))
    )
    checks = {}
    for name in ("mean_s", "p50_s", "p99_s"):
        value = measured.get(name)
        if value is not None:
            checks[name] = check_figure(name, float(value), replayed, planned).to_dict()
    return {"planned": planned.to_dict(), "replayed": replayed.to_dict(), "checks": checks}


def hand_over_bound(load: Workload, service: ServiceModel) -> bool:
    """Whether the pipeline's per-job overhead under load outweighs the job's own run: then
    the hand-over, not the pool, bounds how fast jobs leave the queue (on the async side each
    worker's consumer hands every job to its pool, one at a time), whatever sets the drain."""
    jobs = load.job_s
    run = float(np.mean(jobs)) if jobs is not None else service.mean_s() - service.overhead_mean_s
    return service.overhead_mean_s > run


def bound_by(load: Workload, service: ServiceModel, drain_s: float) -> str:
    """What sets the run's drain: ``arrivals`` when the last job arrives so late that the drain
    is its arrival plus a couple of service times (the workers keep up); else ``hand-over`` when
    the pipeline's per-job overhead outweighs the job's own run (more pool processes do not
    help: for async, each worker's consumer hands every job over); else ``workers``."""
    origin = load.origin_s if load.origin_s is not None else float(load.arrivals_s.min())
    jobs = load.job_s if load.job_s is not None else None
    run = float(np.mean(jobs)) if jobs is not None else service.mean_s() - service.overhead_mean_s
    per_job = run + service.overhead_mean_s
    if drain_s <= float(load.arrivals_s.max()) - origin + 2 * per_job:
        return "arrivals"
    return "hand-over" if service.overhead_mean_s > run else "workers"


def check_figure(
    name: str, measured: float, replayed: Prediction, planned: Prediction, figure: str = ""
) -> FigureCheck:
    """The check of one named figure (``figure``: its name in the predictions, default
    ``name``); a percentile is read by rank too (see :data:`RANK_TOLERANCE`)."""
    figure = figure or name
    result = check(measured, replayed.bands[figure], planned.bands[figure], _floor(name))
    quantile = QUANTILES.get(name)
    rank = replayed.rank(measured) if quantile is not None else None
    if quantile is None or rank is None:
        return result
    near = abs(rank - quantile) <= RANK_TOLERANCE * min(quantile, 100.0 - quantile)
    steep = result.flagged and near
    flagged = result.flagged and not near
    return replace(
        result,
        rank=rank,
        steep=steep,
        flagged=flagged,
        cause=result.cause if flagged or result.cause == "arrivals" else None,
    )


def check(measured: float, replayed: Band, planned: Band, floor: float) -> FigureCheck:
    """A measured figure against the replayed band (and the planned one, to name the cause).

    Flagged when it lies outside the replayed band by more than ``floor`` (and
    :data:`RELATIVE_FLOOR`), whatever its deviation: inside the band it is one of the figures
    the measured service times give, however far from the median (near capacity, where a wait
    is many times as sensitive to the per-job cost as the cost itself, the band is wide and
    says so); outside it by a hair it is not flagged however large its percentage (a 4 ms p50
    against 2 ms is 100 % off and means nothing).
    """
    dev = deviation(replayed.median, measured)
    flagged = _off(measured, replayed, floor)
    cause = "pipeline" if flagged else "arrivals" if _off(measured, planned, floor) else None
    return FigureCheck(
        predicted=replayed.median,
        low=replayed.low,
        high=replayed.high,
        measured=measured,
        deviation=dev,
        in_band=_outside(measured, replayed) <= RESOLUTION,
        flagged=flagged,
        planned=planned.median,
        planned_in_band=_outside(measured, planned) <= RESOLUTION,
        cause=cause,
    )


def _outside(value: float, band: Band) -> float:
    """How far ``value`` lies outside ``band`` (0 inside)."""
    return max(band.low - value, value - band.high, 0.0)


def _off(measured: float, band: Band, floor: float) -> bool:
    """Outside the band by more than ``floor`` and by more than :data:`RELATIVE_FLOOR` of the
    prediction."""
    margin = max(floor, RELATIVE_FLOOR * abs(band.median))
    return _outside(measured, band) > margin


def _floor(name: str) -> float:
    return BACKLOG_FLOOR if name == "peak_backlog" else TIME_FLOOR_S
