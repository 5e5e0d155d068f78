"""One sweep step measured and predicted: throughput, latency, queue wait, backlog, the queue
replay of the jobs as they were sent, and M/G/c at the planned rate as the cross-check.

A step covers the jobs intended in [start, start + duration); those intended in its first
``warmup_s`` were sent but are left out. Achieved throughput counts the jobs that finished
inside the measured window, so an overloaded step shows the service rate, not the offer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from burstlab.experiments.model.mgc import predict_step, squared_cv
from burstlab.experiments.model.prediction import ReplayInputs, step_prediction
from burstlab.experiments.model.records import JobRow
from burstlab.experiments.model.stats import (
    GENERATOR_LAG_LIMIT_MS,
    TAKEN,
    backlog_series,
    peak_backlog,
    percentiles_ms,
)
from burstlab.experiments.model.theory import burst_drain_fixed, burst_latency_percentile_fixed
from burstlab.jobs.record import FAILED
from burstlab.scenario.sweep import relaxation_s

# A measured mean or p50 further than this from its prediction is a deviation (at rho <= 0.8).
STEP_TOLERANCE = 0.20
CHECKED_RHO = 0.8
# The generator fell behind in a step when p99 send lag exceeds the larger of the run-wide
# limit and this fraction of S. A send less than one service time late meets the queue the
# schedule planned to within one job (and its latency still counts from the intended time);
# later than that, the load the step offered is no longer the planned one.
LAG_FRACTION_OF_S = 1.0
# Sends later than this fraction of S (p99) bunch arrivals enough to explain a deviation from
# M/G/c (the replay sends its jobs when they were sent, bunching included).
LATE_SENDS = 0.25
# A step's service time this far from the probed S explains a deviation (a loaded machine).
SERVICE_DRIFT = 0.10
# A measured part shorter than this many relaxation times explains a deviation: the mean of
# a stationary queue over T has a relative standard error of about CV * sqrt(2 tau / T), tau
# about the relaxation time; at the utilisations where so short a part happens (CV near 1)
# that is 45 % or more.
MIN_RELAXATIONS = 10.0


@dataclass(frozen=True)
class StepWindow:
    """When a step ran (epoch seconds) and which part of it counts."""

    start: float
    duration_s: float
    warmup_s: float

    @property
    def measured_from(self) -> float:
        return self.start + self.warmup_s

    @property
    def end(self) -> float:
        return self.start + self.duration_s


def _present(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _lag(rows: Sequence[JobRow], service_s: float) -> dict[str, Any]:
    lag = percentiles_ms(max(r.lag_s, 0.0) for r in rows)
    limit = max(GENERATOR_LAG_LIMIT_MS, LAG_FRACTION_OF_S * service_s * 1000)
    behind = (lag["p99"] or 0.0) > limit
    return {"p99": lag["p99"], "max": lag["max"], "limit": limit, "behind": behind}


def _mean_backlog(rows: Sequence[JobRow], window: StepWindow) -> float | None:
    if not rows:
        return None
    origin = min(r.intended for r in rows)
    points = [
        p.backlog
        for p in backlog_series(rows, 0.1)
        if window.measured_from <= origin + p.t_s < window.end
    ]
    return sum(points) / len(points) if points else None


def _check(predicted: float | None, measured: float | None) -> dict[str, Any] | None:
    if predicted is None or measured is None or predicted <= 0:
        return None
    deviation = (measured - predicted) / predicted
    return {
        "predicted": predicted,
        "measured": measured,
        "deviation": deviation,
        "flagged": abs(deviation) > STEP_TOLERANCE,
    }


def deviation_reason(step: dict[str, Any], probed_run_ms: float) -> str | None:
    """Why a checked step's mean or p50 is off its prediction, in words (None if it is not).

    ``probed_run_ms`` is the run time (start to finish) the probes measured; the prediction's
    S is that plus the hand-over (enqueue to start) the probes measured.
    """
    checks = step["checks"]
    if not any(c["flagged"] for c in checks.values()):
        return None
    off = ", ".join(f"{name} {c['deviation']:+.0%}" for name, c in checks.items() if c["flagged"])
    run_ms = step["service_ms"]["mean"]
    service_ms = step["predicted"]["service_ms"]
    if step["generator_fell_behind"]:
        return f"{off}: the generator fell behind, so the offered load was not the planned one"
    replayed = step.get("replay") is not None
    lag = step["generator_lag_ms"]["p99"] or 0.0
    if not replayed and lag > LATE_SENDS * service_ms:
        return (
            f"{off}: sends went up to {lag:.0f} ms late (p99; under the limit of one S that "
            "leaves a step out), so arrivals came bunched and queued longer than Poisson ones"
        )
    if run_ms is not None and abs(run_ms - probed_run_ms) > SERVICE_DRIFT * probed_run_ms:
        return (
            f"{off}: jobs ran {run_ms:.1f} ms under load against {probed_run_ms:.1f} ms "
            "probed alone (the machine's cores are shared, so S itself moved)"
        )
    hand_over = service_ms - probed_run_ms
    if checks.get("mean", {}).get("deviation", 0) < 0 and hand_over > SERVICE_DRIFT * service_ms:
        return (
            f"{off}: the probes measured a hand-over of {hand_over:.1f} ms per job on top of "
            f"{probed_run_ms:.1f} ms of running (S = {service_ms:.1f} ms); five sequential "
            "probes on a shared machine overstate it, and so does the prediction"
        )
    mean_check = checks.get("mean")
    if mean_check is not None and not mean_check["flagged"]:
        if not replayed:
            return (
                f"{off} while the mean is within {STEP_TOLERANCE:.0%}: the predicted quantiles "
                "come from an exponential wait tail scaled by Allen-Cunneen, which is rough near "
                "the median for nearly fixed service times"
            )
        return (
            f"{off} while the mean is on its prediction: with few jobs waiting, the median "
            "sits on a step of the latency distribution (no wait, or one job's), and a small "
            "shift in the hand-over moves it across"
        )
    measured_s = step["duration_s"] - step["warmup_s"]
    relaxation = relaxation_s(step["rho"], service_ms / 1000, step["predicted"]["servers"])
    if measured_s < MIN_RELAXATIONS * relaxation:
        return (
            f"{off}: the measured {measured_s:.1f} s held only {measured_s / relaxation:.1f} "
            f"relaxation times of the queue (S / (c (1 - sqrt(rho))^2) = {relaxation:.2f} s): "
            "its waits come from a few busy periods, so its mean and median swing by more than "
            f"{STEP_TOLERANCE:.0%} from run to run at this utilisation; a longer --step-s "
            "steadies it"
        )
    if step["completed"] < 20:
        return f"{off}: only {step['completed']} jobs measured, too few for a stable figure"
    wait = step["queue_wait_ms"]["mean"]
    model = (
        "the replay's (the probed hand-over and the queue)"
        if replayed
        else "the M/G/c model's, which counts only service and queueing"
    )
    return (
        f"{off}: time outside the worker (hand-over, HTTP, queue wait {wait or 0:.1f} ms) is "
        f"longer than {model}; on a shared machine the producer, broker and workers also wait "
        "for a core"
    )


def summarize_step(
    rows: Sequence[JobRow],
    window: StepWindow,
    *,
    index: int,
    rho: float,
    planned_rate: float,
    servers: int,
    service_s: float,
    probed_run_ms: float,
    replay: ReplayInputs | None = None,
) -> dict[str, Any]:
    """Measured figures of one rho step beside its predictions: the queue replay's (the step's
    jobs at the times they were sent, through the servers: ``replay``), which the checks read,
    and M/G/c's at the planned rate, the closed-form cross-check."""
    measured = [r for r in rows if window.measured_from <= r.intended < window.end]
    done = [r for r in measured if r.outcome == "succeeded" and r.end is not None]
    finished_in_window = [
        r
        for r in rows
        if r.outcome == "succeeded"
        and r.end is not None
        and window.measured_from <= r.end < window.end
    ]
    span = window.duration_s - window.warmup_s
    offered = len(measured) / span if span > 0 else 0.0
    lag = _lag(rows, service_s)
    service_times = _present([r.service_s for r in done])
    latency = percentiles_ms(_present([r.latency_s for r in done]))
    # M/G/c predicts the Poisson process planned (rate planned_rate); the replay, the jobs a
    # short window of it happened to draw, as they were sent (offered_per_s).
    predicted = predict_step(planned_rate, servers, service_s, squared_cv(service_times))
    replayed = None
    if replay is not None:
        figures = {f"{k}_s": (v / 1000 if (v := latency[k]) is not None else None)
                   for k in ("mean", "p50", "p99")}  # fmt: skip
        replayed = step_prediction(rows, window.measured_from, replay, figures)
    checks: dict[str, Any] = {}
    if rho <= CHECKED_RHO and predicted["stable"]:
        for name, key in (("mean", "mean_ms"), ("p50", "p50_ms")):
            if replayed is not None:
                check = replayed["checks"].get(f"{name}_s")
            else:
                check = _check(predicted.get(key), latency[name])
            if check is not None:
                checks[name] = check
    step: dict[str, Any] = {
        "index": index,
        "rho": rho,
        "duration_s": window.duration_s,
        "warmup_s": window.warmup_s,
        "planned_rate_per_s": planned_rate,
        "offered_per_s": offered,
        "achieved_per_s": len(finished_in_window) / span if span > 0 else 0.0,
        "jobs": len(measured),
        "completed": len(done),
        "failed": sum(r.outcome == FAILED for r in measured),
        "rejected": sum(r.outcome == "rejected" for r in measured),
        "lost": sum(r.outcome == "lost" for r in measured),
        "errors": sum(r.outcome == "error" for r in measured),
        "latency_ms": latency,
        "accept_latency_ms": percentiles_ms(
            _present([r.accept_latency_s for r in measured if r.outcome in TAKEN])
        ),
        "queue_wait_ms": percentiles_ms(_present([r.queue_wait_s for r in done])),
        "service_ms": percentiles_ms(service_times),
        "backlog": {"mean": _mean_backlog(rows, window), "peak": peak_backlog(measured)},
        "generator_lag_ms": {k: lag[k] for k in ("p99", "max", "limit")},
        "generator_fell_behind": lag["behind"],
        "predicted": predicted,
        "replay": replayed,
        "checks": checks,
    }
    step["deviation_reason"] = deviation_reason(step, probed_run_ms)
    # Left out of the knee, the SLO capacity and the fit: a lagging generator, or no answers.
    step["in_fit"] = not lag["behind"] and bool(done)
    return step


def summarize_burst_step(
    rows: Sequence[JobRow],
    *,
    index: int,
    multiple: float,
    burst: int,
    servers: int,
    service_s: float,
) -> dict[str, Any]:
    """One burst-size step: p99 latency, accept p99 and drain against ceil(B / N) S."""
    done = [r for r in rows if r.outcome == "succeeded" and r.end is not None]
    first = min((r.intended for r in rows), default=0.0)
    ends = _present([r.end for r in done])
    drain = max(ends) - first if ends else None
    predicted_drain = burst_drain_fixed(burst, servers, service_s)
    lag = _lag(rows, service_s)
    return {
        "index": index,
        "multiple": multiple,
        "burst": burst,
        "jobs": len(rows),
        "completed": len(done),
        "failed": sum(r.outcome == FAILED for r in rows),
        "lost": sum(r.outcome == "lost" for r in rows),
        "errors": sum(r.outcome in ("error", "rejected") for r in rows),
        "latency_ms": percentiles_ms(_present([r.latency_s for r in done])),
        "accept_latency_ms": percentiles_ms(
            _present([r.accept_latency_s for r in rows if r.outcome in TAKEN])
        ),
        "drain_s": drain,
        "predicted": {
            "drain_s": predicted_drain,
            "p99_ms": burst_latency_percentile_fixed(burst, servers, service_s, 99) * 1000,
        },
        "drain_deviation": (drain - predicted_drain) / predicted_drain
        if drain is not None and predicted_drain > 0
        else math.nan,
        "generator_lag_ms": {k: lag[k] for k in ("p99", "max", "limit")},
        "generator_fell_behind": lag["behind"],
        "in_fit": not lag["behind"] and bool(done),
    }
