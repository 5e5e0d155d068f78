"""Pass/fail limits a scenario sets on its runs, and their evaluation against run summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """Optional limits; ``None`` means not checked.

    - ``async_accept_p99_ms``: p99 accept latency (intended send to 202) <= this, async runs.
    - ``max_lost``: accepted async jobs not finished within the drain timeout <= this.
    - ``max_rejected``: rejected answers (HTTP 4xx/5xx) plus transport errors <= this.
    - ``max_drain_error``: in runs with a burst prediction, |measured - predicted| / predicted
      drain time <= this (a fraction, 0.25 = 25 %).
    - ``min_async_speedup_4v1``: async throughput with 4 workers / with 1 worker >= this.
    - ``slo_p99_ms``: the latency objective of a sweep: its SLO capacity is the highest
      throughput at which p99 stays within it (reported, not a pass/fail limit).
    - ``completion_p99_ms``: the SLO, p99 completion latency (intended send to finish) <= this.
      An autoscale run checks it on the autoscaled runs; the fixed ones are its reference.
    """

    async_accept_p99_ms: float | None = None
    max_lost: int | None = None
    max_rejected: int | None = None
    max_drain_error: float | None = None
    min_async_speedup_4v1: float | None = None
    slo_p99_ms: float | None = None
    completion_p99_ms: float | None = None


@dataclass(frozen=True)
class ThresholdCheck:
    """One evaluated limit; ``passed`` is None when the runs lack the data to decide."""

    name: str
    subject: str
    limit: float
    measured: float | None
    passed: bool | None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for summary.json."""
        return asdict(self)


def _label(run: Mapping[str, Any]) -> str:
    return f"{run['mode']} x{run['workers']}"


def _check(
    name: str, subject: str, limit: float, measured: float | None, ok: bool
) -> ThresholdCheck:
    return ThresholdCheck(name, subject, limit, measured, None if measured is None else ok)


def _drain_error(run: Mapping[str, Any]) -> float | None:
    """The drain's deviation from the replayed prediction, or the closed form's without one."""
    check = (run.get("prediction") or {}).get("checks", {}).get("drain_s")
    check = check or (run.get("theory") or {}).get("checks", {}).get("drain_s")
    if not check or check.get("deviation") is None:
        return None
    return abs(float(check["deviation"]))


def check_thresholds(
    thresholds: Thresholds, runs: Sequence[Mapping[str, Any]]
) -> list[ThresholdCheck]:
    """Evaluate every set limit against the ``summarize_run`` dicts of one scenario."""
    checks: list[ThresholdCheck] = []
    for run in runs:
        subject = _label(run)
        if thresholds.async_accept_p99_ms is not None and run["mode"] == "async":
            p99 = run["accept_latency_ms"]["p99"]
            limit = thresholds.async_accept_p99_ms
            checks.append(
                _check("async_accept_p99_ms", subject, limit, p99, p99 is not None and p99 <= limit)
            )
        if thresholds.max_lost is not None:
            lost = run["lost"]
            checks.append(
                _check("max_lost", subject, thresholds.max_lost, lost, lost <= thresholds.max_lost)
            )
        if thresholds.max_rejected is not None:
            bad = run["rejected"] + run.get("errors", 0)
            limit_r = thresholds.max_rejected
            checks.append(_check("max_rejected", subject, limit_r, bad, bad <= limit_r))
        if thresholds.completion_p99_ms is not None:
            p99c = run["latency_ms"]["p99"]
            limit_c = thresholds.completion_p99_ms
            checks.append(
                _check(
                    "completion_p99_ms",
                    subject,
                    limit_c,
                    p99c,
                    p99c is not None and p99c <= limit_c,
                )
            )
        if thresholds.max_drain_error is not None:
            error = _drain_error(run)
            limit_d = thresholds.max_drain_error
            checks.append(
                _check(
                    "max_drain_error",
                    subject,
                    limit_d,
                    error,
                    error is not None and error <= limit_d,
                )
            )
    if thresholds.min_async_speedup_4v1 is not None:
        checks.append(_speedup_check(thresholds.min_async_speedup_4v1, runs))
    return checks


def _speedup_check(limit: float, runs: Sequence[Mapping[str, Any]]) -> ThresholdCheck:
    by_workers = {r["workers"]: r["throughput_per_s"] for r in runs if r["mode"] == "async"}
    one, four = by_workers.get(1), by_workers.get(4)
    speedup = four / one if one and four is not None else None
    return _check(
        "min_async_speedup_4v1", "async", limit, speedup, speedup is not None and speedup >= limit
    )


def all_passed(checks: Sequence[ThresholdCheck]) -> bool:
    """True when no evaluated check failed (undecidable checks do not fail the run)."""
    return all(check.passed is not False for check in checks)
