"""The queue replay's tables: each figure beside its planned and replayed prediction, with the
band, and the service-time model both sides were predicted from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from burstlab.experiments.render.tables import FLAG, TableData, fmt

_FIGURES = {
    "drain_s": ("drain s", 2, 1.0),
    "mean_s": ("mean latency ms", 1, 1000.0),
    "p50_s": ("p50 latency ms", 1, 1000.0),
    "p99_s": ("p99 latency ms", 1, 1000.0),
    "peak_backlog": ("peak backlog", 0, 1.0),
}
_CAUSES = {
    "pipeline": "pipeline (outside the replayed band)",
    "arrivals": "arrivals (only the planned one is off)",
}


def _label(run: Mapping[str, Any]) -> str:
    return str(run.get("label") or f"{run['mode']} x{run['workers']}")


def _value(value: float, digits: int, scale: float) -> str:
    return fmt(float(value) * scale, digits)


def prediction_table(runs: Sequence[Mapping[str, Any]]) -> TableData:
    """Per run and figure: planned, replayed with its 5-95 % band, measured, deviation, flag."""
    rows = []
    for run in runs:
        checks = (run.get("prediction") or {}).get("checks", {})
        for name, check in checks.items():
            title, digits, scale = _FIGURES.get(name, (name, 3, 1.0))
            band = (
                f"{_value(check['low'], digits, scale)}\u2013{_value(check['high'], digits, scale)}"
            )
            notes = [_CAUSES.get(check.get("cause") or "", "")]
            if check.get("steep"):
                notes.insert(0, f"steep here: the replay's p{check['rank']:.1f}")
            elif not check["flagged"] and not check.get("in_band", True):
                notes.insert(0, "outside the band, within 5 %")
            flag = (f"{FLAG} " if check["flagged"] else "") + "; ".join(n for n in notes if n)
            rows.append(
                (
                    _label(run),
                    title,
                    _value(check["planned"], digits, scale),
                    f"{_value(check['predicted'], digits, scale)} ({band})",
                    _value(check["measured"], digits, scale),
                    "\u2013" if check["deviation"] is None else f"{check['deviation']:+.0%}",
                    flag,
                )
            )
    headers = (
        "run",
        "figure",
        "planned",
        "replayed (band 5\u201395 %)",
        "measured",
        "deviation",
        "off",
    )
    return TableData("Prediction vs measured (queue replay)", headers, tuple(rows))


_BOUND = {
    "arrivals": "the arrivals (the workers keep up with them)",
    "hand-over": "the per-job hand-over, not the pool (more processes do not help)",
    "workers": "the workers",
}
_HAND_OVER = {
    "async": "each worker's consumer, not its pool: it hands every job over one at a time, "
    "and more pool processes do not help",
    "sync": "the per-job hand-over (HTTP accept and forward), not the workers",
}


def _bound(run: Mapping[str, Any], prediction: Mapping[str, Any]) -> str:
    """What sets the drain, and, when the hand-over outweighs the job, what bounds the queue."""
    bound = prediction.get("bound") or ""
    if not prediction.get("hand_over_bound"):
        return _BOUND.get(bound, "")
    consumer = _HAND_OVER.get(run["mode"], _BOUND["hand-over"])
    if bound == "hand-over":
        return consumer
    return f"{_BOUND.get(bound, bound)}; the wait is bounded by {consumer}"


def service_table(runs: list[Mapping[str, Any]]) -> TableData:
    """The service-time model of each replayed run: servers, run time, the pipeline's per-job
    overhead (under load when the load probe measured it; while the burst arrives when the
    arrival probe did), and what sets the drain."""
    rows = []
    for run in runs:
        prediction = run.get("prediction") or {}
        inputs = prediction.get("inputs")
        if not inputs:
            continue
        service = inputs["service"]
        samples = service.get("run_s") or []
        run_time = (
            f"{fmt(service['run_mean_ms'])} ms mean of {len(samples)} measured"
            if samples
            else "each job's own duration"
        )
        probe = run.get("probe") or {}
        loaded = probe.get("loaded_overhead_samples_s")
        how = (
            f"under load, {len(loaded)} rounds"
            if loaded
            else f"{len(service.get('overhead_s') or [])} sequential probes"
        )
        per_job = f"{fmt(service.get('overhead_mean_ms'), 2)} ms ({how})"
        arriving = service.get("arriving_overhead_s") or []
        if arriving:
            per_job += (
                f"; {fmt(service.get('arriving_overhead_mean_ms'), 2)} ms while the burst "
                f"arrives ({len(arriving)} rounds of {probe.get('arriving_jobs')} jobs)"
            )
        rows.append(
            (_label(run), fmt(inputs["servers"]), run_time, per_job, _bound(run, prediction))
        )
    headers = ("run", "servers", "run time", "pipeline per job", "drain set by")
    return TableData("Service-time model of the prediction", headers, tuple(rows))
