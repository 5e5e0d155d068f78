"""Per-run statistics: HdrHistogram percentiles, throughput, drain, backlog and theory checks.

Time series use offsets in seconds from the run's first intended send.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from burstlab.experiments.model.histograms import encode, percentiles, record, to_micros
from burstlab.experiments.model.prediction import ReplayInputs, run_prediction
from burstlab.experiments.model.records import JobRow
from burstlab.experiments.model.theory import Theory, TheoryInputs, deviation, is_flagged, predict

# The generator "fell behind" when p99 of (sent - intended) exceeds this.
GENERATOR_LAG_LIMIT_MS = 5.0
# Outcomes of jobs the service took on (async: answered 202): they count as accepted and as backlog.
TAKEN = ("succeeded", "failed", "lost")

Percentiles = dict[str, float | int | None]


@dataclass(frozen=True)
class BacklogPoint:
    """Jobs waiting at ``t_s`` seconds after the run's first intended send."""

    t_s: float
    backlog: int


@dataclass(frozen=True)
class RateBin:
    """Jobs offered (by intended send) and completed (by end) in [start_s, start_s + bin)."""

    start_s: float
    offered: int
    completed: int


def percentiles_ms(values_s: Iterable[float]) -> Percentiles:
    """p50/p90/p99/p999 (HdrHistogram, 3 digits, 1 us..1 h) plus exact max and mean, all in ms.

    Values are clamped into the histogram range; percentiles never exceed the exact max.
    """
    micros = to_micros(values_s)
    return percentiles(
        record(micros),
        top_us=max(micros, default=0),
        mean_us=statistics.fmean(micros) if micros else 0.0,
        count=len(micros),
    )


def latency_values(run: Sequence[JobRow]) -> dict[str, list[float]]:
    """One run's latency samples in seconds, by the summary key their percentiles go under."""
    done = [r for r in run if r.outcome == "succeeded" and r.end is not None]
    return {
        "latency_ms": _present(r.latency_s for r in done),
        "latency_uncorrected_ms": _present(r.latency_uncorrected_s for r in done),
        "accept_latency_ms": _present(r.accept_latency_s for r in run if r.outcome in TAKEN),
        "queue_wait_ms": _present(r.queue_wait_s for r in done),
        "service_ms": _present(r.service_s for r in done),
    }


def encoded_histograms(rows: Iterable[JobRow]) -> list[dict[str, Any]]:
    """Per run present in ``rows``: its mode, workers and each latency's encoded HdrHistogram."""
    rows = list(rows)
    histograms = []
    for mode, workers in run_keys(rows):
        values = latency_values(run_rows(rows, mode, workers))
        encoded = {name: encode(record(to_micros(samples))) for name, samples in values.items()}
        histograms.append({"mode": mode, "workers": workers} | encoded)
    return histograms


def run_rows(rows: Iterable[JobRow], mode: str, workers: int) -> list[JobRow]:
    """The rows of one run."""
    return [r for r in rows if r.mode == mode and r.workers == workers]


def run_keys(rows: Iterable[JobRow]) -> list[tuple[str, int]]:
    """The (mode, workers) runs present, sync first, then by workers."""
    return sorted({(r.mode, r.workers) for r in rows}, key=lambda k: (k[0] != "sync", k[1]))


def _present(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _waiting_intervals(rows: Iterable[JobRow]) -> list[tuple[float, float]]:
    """Async: accepted until started (forever if never started). Sync: sent until answered."""
    intervals = []
    for row in rows:
        if row.accepted is None:
            continue
        if row.mode == "async":
            if row.outcome not in TAKEN:
                continue
            start, end = row.accepted, row.started if row.started is not None else math.inf
        else:
            start, end = row.sent, row.accepted
        if end > start:
            intervals.append((start, end))
    return intervals


def backlog_series(rows: Sequence[JobRow], step_s: float = 0.1) -> list[BacklogPoint]:
    """One run's backlog every ``step_s`` from its first intended send to its last event."""
    if not rows:
        return []
    origin = min(r.intended for r in rows)
    intervals = _waiting_intervals(rows)
    starts = sorted(s for s, _ in intervals)
    ends = sorted(e for _, e in intervals)
    # The series spans the whole run (every intended send and end), not just the waiting.
    times = (*starts, *ends, *(r.intended for r in rows), *_present(r.end for r in rows))
    finite = [t for t in times if math.isfinite(t)]
    # One sample at or past the last event, so the series ends on the final backlog.
    samples = math.ceil((max(finite) - origin) / step_s) + 1
    points = []
    for i in range(samples):
        t = origin + i * step_s
        waiting = bisect.bisect_right(starts, t) - bisect.bisect_right(ends, t)
        points.append(BacklogPoint(round(i * step_s, 9), waiting))
    return points


def peak_backlog(rows: Iterable[JobRow]) -> int:
    """Exact maximum backlog of one run (an event sweep, not sampled)."""
    events = []
    for start, end in _waiting_intervals(rows):
        events += [(start, 1), (end, -1)]
    # Ends sort before starts at the same instant, so a hand-over does not count twice.
    events.sort()
    peak = current = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def offered_completed_series(rows: Sequence[JobRow], bin_s: float = 1.0) -> list[RateBin]:
    """Per-bin offered and completed (succeeded) counts of one run, from its first intended send."""
    if not rows:
        return []
    origin = min(r.intended for r in rows)
    ends = _present(r.end for r in rows if r.outcome == "succeeded")
    last = max([r.intended for r in rows] + ends)
    bins = [[0, 0] for _ in range(math.floor((last - origin) / bin_s) + 1)]
    for row in rows:
        bins[math.floor((row.intended - origin) / bin_s)][0] += 1
    for end in ends:
        bins[max(math.floor((end - origin) / bin_s), 0)][1] += 1
    return [RateBin(i * bin_s, offered, completed) for i, (offered, completed) in enumerate(bins)]


# A deviation is flagged only if it is also larger than this in absolute terms: a mean wait of
# 4 ms against a prediction of 0.1 ms is 40x "off" but means nothing.
ABSOLUTE_FLOOR = {"utilization": 0.05}
ABSOLUTE_FLOOR_S = 0.010


def _check(name: str, predicted: float | None, measured: float | None) -> dict[str, Any] | None:
    if predicted is None or measured is None or predicted == 0:
        return None
    dev = deviation(predicted, measured)
    floor = ABSOLUTE_FLOOR.get(name, ABSOLUTE_FLOOR_S)
    return {
        "predicted": predicted,
        "measured": measured,
        "deviation": dev,
        "flagged": is_flagged(dev) and abs(measured - predicted) > floor,
    }


def _theory_section(
    inputs: TheoryInputs | None, measured: dict[str, float | None]
) -> dict[str, Any]:
    if inputs is None:
        return {"inputs": None, "predicted": None, "checks": {}}
    theory: Theory = predict(inputs)
    pairs = {
        "drain_s": theory.burst_drain_s,
        "burst_mean_latency_s": theory.burst_mean_latency_s,
        "mean_wait_s": theory.mean_wait_s,
        "mean_response_s": theory.mean_response_s,
        "utilization": theory.utilization,
    }
    if inputs.burst_size:
        # With a burst the run is not in steady state; only the burst predictions apply.
        pairs = {k: v for k, v in pairs.items() if k in ("drain_s", "burst_mean_latency_s")}
    checks = {name: _check(name, pred, measured.get(name)) for name, pred in pairs.items()}
    return {
        "inputs": asdict(inputs),
        "predicted": theory.to_dict(),
        "checks": {name: check for name, check in checks.items() if check is not None},
    }


def summarize_run(
    rows: Iterable[JobRow],
    mode: str,
    workers: int,
    theory_inputs: TheoryInputs | None = None,
    replay_inputs: ReplayInputs | None = None,
) -> dict[str, Any]:
    """Summary of one (mode, workers) run; ``rows`` may hold other runs too (they are filtered out).

    throughput_per_s = succeeded jobs sent from the burst on / (last end - first burst send), or
    over the whole run without a burst (see ``_throughput``). drain_s = last end -
    first intended burst send (or first intended send without a burst). Latency stats cover
    succeeded jobs, accept latency all jobs the service took (not rejected, not errors);
    ``failed`` and ``errors`` count the outcomes beyond the required keys. With
    ``replay_inputs`` the run is replayed through the queue model (``prediction``); the
    closed forms of ``theory_inputs`` stay beside it as a cross-check (``theory``).
    """
    run = run_rows(rows, mode, workers)
    done = [r for r in run if r.outcome == "succeeded" and r.end is not None]
    first = min((r.intended for r in run), default=0.0)
    # A job that ran and failed kept a worker busy as long as one that succeeded: the drain
    # ends with the last job that ran, whatever its outcome.
    ran = [r for r in run if r.outcome in ("succeeded", "failed") and r.end is not None]
    last_end = max(_present(r.end for r in ran), default=None)
    span = last_end - first if last_end is not None else 0.0
    has_burst = any(r.in_burst for r in run)
    burst_start = min((r.intended for r in run if r.in_burst), default=first)
    drain = last_end - burst_start if last_end is not None else None
    lag = percentiles_ms(max(r.lag_s, 0.0) for r in run)
    latencies = {name: percentiles_ms(v) for name, v in latency_values(run).items()}
    latency = latencies["latency_ms"]
    queue_wait = latencies["queue_wait_ms"]
    drained = [r for r in done if r.intended >= burst_start]
    busy = sum(_present(r.service_s for r in done))
    measured = {
        "drain_s": drain,
        "burst_mean_latency_s": _mean_s(_present(r.latency_s for r in done if r.in_burst)),
        "mean_wait_s": _ms_to_s(queue_wait["mean"]),
        "mean_response_s": _ms_to_s(latency["mean"]),
        "utilization": busy / (workers * span) if span > 0 else None,
    }
    backlog = peak_backlog(run)
    summary: dict[str, Any] = {
        "mode": mode,
        "workers": workers,
        "offered": len(run),
        "completed": len(done),
        "rejected": sum(r.outcome == "rejected" for r in run),
        "lost": sum(r.outcome == "lost" for r in run),
        "failed": sum(r.outcome == "failed" for r in run),
        "errors": sum(r.outcome == "error" for r in run),
        "retried": sum(r.retries > 0 for r in run),
        "timed_out": sum(r.timed_out for r in run),
        "throughput_per_s": _throughput(done, first, burst_start, last_end),
        **latencies,
        "drain_s": drain,
        "drain_overhead": drain_overhead(drained, workers, drain) if has_burst else None,
        "peak_backlog": backlog,
        "generator_lag_ms": {"p99": lag["p99"], "max": lag["max"]},
        "generator_fell_behind": (lag["p99"] or 0.0) > GENERATOR_LAG_LIMIT_MS,
        "theory": _theory_section(theory_inputs, measured),
        **(
            {"service_measured": service_measured(ran)}
            if any(r.kind == "task" for r in run)
            else {}
        ),
    }
    if replay_inputs is not None:
        mean = measured["burst_mean_latency_s"] if has_burst else measured["mean_response_s"]
        figures = {
            "drain_s": drain,
            "mean_s": mean,
            "p50_s": _ms_to_s(latency["p50"]),
            "p99_s": _ms_to_s(latency["p99"]),
            "peak_backlog": float(backlog),
        }
        summary["prediction"] = run_prediction(run, mode, replay_inputs, figures)
    return summary


def service_measured(ran: Sequence[JobRow]) -> dict[str, Any]:
    """The service-time distribution of the jobs that ran (a user's task): mean, coefficient of
    variation, p50, p99 and the share of it spent on the CPU of the task's thread."""
    times = _present(r.service_s for r in ran)
    if not times:
        return {"count": 0}
    quantiles = percentiles_ms(times)
    mean = statistics.fmean(times)
    cv = statistics.pstdev(times) / mean if mean > 0 and len(times) > 1 else 0.0
    cpu = [r.cpu_s for r in ran if r.cpu_s is not None and r.service_s is not None]
    timed = sum(r.service_s or 0.0 for r in ran if r.cpu_s is not None)
    return {
        "count": len(times),
        "mean_ms": mean * 1000,
        "cv": cv,
        "p50_ms": quantiles["p50"],
        "p99_ms": quantiles["p99"],
        "cpu_share": sum(cpu) / timed if timed > 0 else None,
    }


def drain_overhead(
    drained: Sequence[JobRow], workers: int, drain_s: float | None
) -> dict[str, float | int | None]:
    """The per-task overhead of a burst's drain, defined as ``benchmarks.worker_overhead``
    defines it: drain x workers / jobs - job time, in ms per job and worker process.

    ``drained`` are the succeeded jobs sent from the burst on (those ``drain_s`` covers), the job
    time their mean requested duration. ``ideal_drain_s`` = ceil(jobs / workers) x job time:
    what the workers would take with no cost per job. The figure holds while the workers stay
    busy through the drain, as they do when the burst is well above their number.
    """
    jobs = len(drained)
    if not jobs or drain_s is None or workers < 1:
        return {"jobs": jobs, "job_ms": None, "ideal_drain_s": None, "per_task_ms": None}
    job_ms = statistics.fmean(r.duration_ms for r in drained)
    return {
        "jobs": jobs,
        "job_ms": job_ms,
        "ideal_drain_s": math.ceil(jobs / workers) * job_ms / 1000,
        "per_task_ms": drain_s * 1000 * workers / jobs - job_ms,
    }


def _throughput(
    done: list[JobRow], first: float, burst_start: float, last_end: float | None
) -> float:
    """Completed jobs per second over the busy window: from the burst (if any) to the last end.

    With a burst, the quiet time before it is left out, so the figure is the rate at which the
    burst drained: N/S at saturation. Without one it is over the whole run.
    """
    if last_end is None:
        return 0.0
    counted = [r for r in done if r.intended >= burst_start]
    span = last_end - burst_start
    return len(counted) / span if span > 0 else 0.0


def _mean_s(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _ms_to_s(value: float | int | None) -> float | None:
    return None if value is None else value / 1000
