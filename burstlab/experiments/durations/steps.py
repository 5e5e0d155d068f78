"""A duration sweep summarised: each mode's drains per job duration beside the prediction, then
sync and async set side by side with the crossover, measured, predicted and fitted.

Drain is from the burst's first intended send to its last completion (sync: the last answer;
async: the last job finished). Each duration is sent ``repeats`` times; the median is the
figure, the range shows the spread. A burst in which any job did not succeed has no drain.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from burstlab.experiments.durations.crossover import (
    ABOVE,
    BELOW,
    CROSSED,
    NEVER,
    burst_rounds,
    fit_line,
    fitted_overhead_ms,
    measured_crossing,
    model_crossing,
    per_job_overhead_ms,
    predicted_drain_s,
)
from burstlab.experiments.model.records import JobRow
from burstlab.experiments.model.stats import GENERATOR_LAG_LIMIT_MS, TAKEN, percentiles_ms
from burstlab.experiments.model.theory import DEVIATION_TOLERANCE

WHICH = ("measured", "predicted", "fitted")
"""The three readings of a crossover: from measured ratios, the no-op overheads, the fitted ones."""
LAG_FRACTION_OF_DRAIN = 0.10
"""A burst whose p99 send lag exceeds this share of its predicted drain (or the run-wide limit,
if larger) arrived spread out rather than at once: flagged, still counted."""


@dataclass(frozen=True)
class BurstResult:
    """One burst of a duration sweep: its job duration (0: the no-op calibration), its rows."""

    duration_ms: float
    repeat: int
    rows: tuple[JobRow, ...]

    @property
    def drain_s(self) -> float | None:
        """First intended send to last completion; None unless every job succeeded."""
        if not self.rows or any(r.outcome != "succeeded" or r.end is None for r in self.rows):
            return None
        return max(r.end for r in self.rows if r.end is not None) - min(
            r.intended for r in self.rows
        )


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _drains(bursts: Iterable[BurstResult]) -> list[float]:
    return [d for b in bursts if (d := b.drain_s) is not None]


def _present(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _step(
    duration_ms: float, bursts: Sequence[BurstResult], overhead_ms: float | None, rounds: int
) -> dict[str, Any]:
    rows = [r for b in bursts for r in b.rows]
    done = [r for r in rows if r.outcome == "succeeded" and r.end is not None]
    drains = _drains(bursts)
    drain = _median(drains)
    predicted = (
        predicted_drain_s(overhead_ms, rounds, duration_ms) if overhead_ms is not None else None
    )
    deviation = (drain - predicted) / predicted if drain is not None and predicted else None
    lag = percentiles_ms(max(r.lag_s, 0.0) for r in rows)
    limit = max(GENERATOR_LAG_LIMIT_MS, LAG_FRACTION_OF_DRAIN * (predicted or 0.0) * 1000)
    return {
        "duration_ms": duration_ms,
        "bursts": len(bursts),
        "jobs": len(rows),
        "completed": len(done),
        "lost": sum(r.outcome == "lost" for r in rows),
        "errors": sum(r.outcome in ("error", "rejected", "failed") for r in rows),
        "drains_s": [b.drain_s for b in bursts],
        "drain_s": drain,
        "drain_min_s": min(drains, default=None),
        "drain_max_s": max(drains, default=None),
        "predicted_drain_s": predicted,
        "deviation": deviation,
        "flagged": deviation is not None and abs(deviation) > DEVIATION_TOLERANCE,
        "latency_ms": percentiles_ms(_present(r.latency_s for r in done)),
        "accept_latency_ms": percentiles_ms(
            _present(r.accept_latency_s for r in rows if r.outcome in TAKEN)
        ),
        "generator_lag_ms": {"p99": lag["p99"], "max": lag["max"], "limit": limit},
        "generator_fell_behind": (lag["p99"] or 0.0) > limit,
    }


def summarize_duration_mode(
    bursts: Sequence[BurstResult], *, burst: int, servers: int
) -> dict[str, Any]:
    """One mode's sweep: the no-op calibration (per-job overhead) and a step per duration.

    The no-op bursts (duration 0) measure o = their median drain / ceil(B / N); each
    duration's drain is predicted as ceil(B / N) x (d + o).
    """
    rounds = burst_rounds(burst, servers)
    noop = [b for b in bursts if b.duration_ms == 0]
    noop_s = _median(_drains(noop))
    overhead = per_job_overhead_ms(noop_s, rounds) if noop_s is not None else None
    durations = sorted({b.duration_ms for b in bursts if b.duration_ms > 0})
    steps = [
        _step(d, [b for b in bursts if b.duration_ms == d], overhead, rounds) for d in durations
    ]
    return {
        "sweep": "duration",
        "burst": burst,
        "servers": servers,
        "rounds": rounds,
        "calibration": {
            "noop_drains_s": [b.drain_s for b in noop],
            "noop_drain_s": noop_s,
            "overhead_ms": overhead,
        },
        "steps": steps,
    }


def _crossings(
    durations: Sequence[float],
    ratios: Sequence[float | None],
    overheads: Mapping[str, float | None],
    fitted: Mapping[str, float | None],
    tolerance: float,
) -> dict[str, Any]:
    """Measured, predicted (no-op overheads) and fitted (overheads fitted to every drain)."""

    def model(o: Mapping[str, float | None]) -> dict[str, Any] | None:
        sync, run = o["sync"], o["async"]
        if sync is None or run is None:
            return None
        return model_crossing(sync, run, tolerance).to_dict()

    measured = None
    if any(r is not None for r in ratios):
        measured = measured_crossing(durations, ratios, tolerance).to_dict()
    return {
        "tolerance": tolerance,
        "measured": measured,
        "predicted": model(overheads),
        "fitted": model(fitted),
    }


def _ratio(a: float | None, s: float | None) -> float | None:
    return a / s if a is not None and s else None


def _fit(run: Mapping[str, Any]) -> dict[str, Any] | None:
    """The overhead fitted with slope ceil(B / N), and a free line's slope / ceil(B / N), R^2."""
    points = [(s["duration_ms"], s["drain_s"]) for s in run["steps"] if s["drain_s"] is not None]
    if not points:
        return None
    durations, drains = [d for d, _ in points], [y for _, y in points]
    fit: dict[str, Any] = {"overhead_ms": fitted_overhead_ms(durations, drains, run["rounds"])}
    if len(set(durations)) >= 2:
        line = fit_line(durations, drains)
        fit["slope_of_rounds"] = line["slope_s_per_ms"] * 1000 / run["rounds"]
        fit["r2"] = line["r2"]
    return fit


def crossover_section(runs: Sequence[Mapping[str, Any]], tolerance: float) -> list[dict[str, Any]]:
    """Per worker count with both modes: drains side by side, the crossovers, the line fits."""
    sections = []
    by_workers: dict[int, dict[str, Mapping[str, Any]]] = {}
    for run in runs:
        if run.get("sweep") == "duration":
            by_workers.setdefault(int(run["workers"]), {})[run["mode"]] = run
    for workers, modes in sorted(by_workers.items()):
        if set(modes) != {"sync", "async"}:
            continue
        sync, run = modes["sync"], modes["async"]
        durations = [s["duration_ms"] for s in sync["steps"]]
        pairs = list(zip(sync["steps"], run["steps"], strict=True))
        ratios = [_ratio(a["drain_s"], s["drain_s"]) for s, a in pairs]
        predicted_ratios = [
            _ratio(a["predicted_drain_s"], s["predicted_drain_s"]) for s, a in pairs
        ]
        overheads = {
            "sync": sync["calibration"]["overhead_ms"],
            "async": run["calibration"]["overhead_ms"],
        }
        fits = {"sync": _fit(sync), "async": _fit(run)}
        fitted = {mode: (fit or {}).get("overhead_ms") for mode, fit in fits.items()}
        sections.append(
            {
                "workers": workers,
                "burst": run["burst"],
                "servers": run["servers"],
                "rounds": run["rounds"],
                "overhead_ms": overheads,
                "fitted_overhead_ms": fitted,
                "durations_ms": durations,
                "ratios": ratios,
                "predicted_ratios": predicted_ratios,
                "slower": _crossings(durations, ratios, overheads, fitted, 0.0),
                "beyond_tolerance": _crossings(durations, ratios, overheads, fitted, tolerance),
                "fit": fits,
            }
        )
    return sections


def _words(crossing: Mapping[str, Any] | None, durations: Sequence[float]) -> str:
    if crossing is None:
        return "not known (no complete burst)"
    how, value = crossing["how"], crossing["duration_ms"]
    if how == CROSSED:
        if value > durations[-1]:
            return f"below {value:.1f} ms (beyond the durations sent)"
        return f"below {value:.0f} ms"
    if how == ABOVE:
        return f"at every duration sent ({durations[0]:g}-{durations[-1]:g} ms)"
    if how == NEVER:
        return "at every duration"
    assert how == BELOW
    return "at no duration"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def crossover_sentences(sections: Sequence[Mapping[str, Any]]) -> list[str]:
    """The overheads and the crossovers in words (measured, predicted, fitted), per worker count."""
    lines = []
    for section in sections:
        durations = section["durations_ms"]
        head = f"\u00d7{section['workers']}, B = {section['burst']}"
        noop, fitted = section["overhead_ms"], section["fitted_overhead_ms"]
        lines.append(
            f"{head}: per-job overhead from no-op bursts sync {_ms(noop['sync'])}, async "
            f"{_ms(noop['async'])}; fitted to every drain sync {_ms(fitted['sync'])}, "
            f"async {_ms(fitted['async'])}"
        )
        tolerance = section["beyond_tolerance"]["tolerance"]
        for key, what in (
            ("slower", "async drains slower than sync"),
            ("beyond_tolerance", f"async drains more than {tolerance:.0%} slower than sync"),
        ):
            words = {which: _words(section[key][which], durations) for which in WHICH}
            lines.append(
                f"{head}: {what} measured {words['measured']}; predicted {words['predicted']}; "
                f"fitted {words['fitted']}"
            )
    return lines
