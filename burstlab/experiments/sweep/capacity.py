"""From sweep steps to capacity: the knee, the SLO capacity and the Universal Scalability Law.

- SLO capacity: the highest achieved throughput at which p99 stays within the SLO, found
  between the last step within it and the first one past it (linear in throughput, log in p99).
- Knee: the step of greatest power, throughput / mean latency (Kleinrock): past it each extra
  job per second costs more latency than it adds work.
- USL (Gunther): X(N) = lambda N / (1 + sigma (N - 1) + kappa N (N - 1)), sigma contention,
  kappa coherency, peak at N* = sqrt((1 - sigma) / kappa); fitted with scipy's curve_fit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

# Scaling efficiency X(N) / (N X(1)) below this at the largest N is a scalability problem.
EFFICIENCY_FLOOR = 0.8
# At the lowest load, a mean latency this many times the service time is a performance problem.
LOW_LOAD_SLOWDOWN = 2.0
# Throughput at the largest worker count within this fraction of the best is a plateau.
PLATEAU_TOLERANCE = 0.05


def slo_capacity(points: Sequence[tuple[float, float]], slo_ms: float) -> tuple[float, str]:
    """(throughput, how) from (achieved throughput, p99 ms) points in order of rising load.

    ``how`` is "interpolated" (crossed between two steps), "at least" (never exceeded: the
    highest throughput measured) or "none" (already past the SLO at the lowest load: 0).
    """
    if not points:
        raise ValueError("no steps to read an SLO capacity from")
    if slo_ms <= 0:
        raise ValueError(f"slo_ms must be > 0, got {slo_ms}")
    best_x = None
    for i, (x, p99) in enumerate(points):
        if p99 > slo_ms:
            if i == 0:
                return 0.0, "none"
            x0, p0 = points[i - 1]
            fraction = (math.log(slo_ms) - math.log(p0)) / (math.log(p99) - math.log(p0))
            crossing = x0 + (x - x0) * fraction
            # Past saturation throughput can fall as latency rises: never report below x0.
            return max(crossing, x0, best_x or 0.0), "interpolated"
        best_x = max(best_x or 0.0, x)
    return best_x or 0.0, "at least"


def knee_index(points: Sequence[tuple[float, float]]) -> int | None:
    """Index of the point of greatest power x / latency, from (throughput, mean latency) pairs."""
    powers = [(x / latency if latency > 0 else 0.0) for x, latency in points]
    if not powers:
        return None
    return max(range(len(powers)), key=powers.__getitem__)


def usl(n: Any, lam: float, sigma: float, kappa: float) -> Any:
    """Gunther's USL throughput at N (a number or a numpy array)."""
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def fit_usl(workers: Sequence[float], throughput: Sequence[float]) -> dict[str, Any]:
    """Least-squares USL fit (lambda > 0, 0 <= sigma <= 1, kappa >= 0); needs >= 3 worker counts.

    Returns lambda, sigma, kappa, n_star (None when kappa is 0: no peak) and r2.
    """
    import numpy as np
    from scipy.optimize import OptimizeWarning, curve_fit

    if len(set(workers)) < 3:
        raise ValueError("the USL fit needs at least three worker counts")
    n = np.asarray(workers, dtype=float)
    x = np.asarray(throughput, dtype=float)
    start = float(x[np.argmin(n)] / n.min())
    with warnings.catch_warnings():
        # An exact fit (three points, three parameters) has no covariance estimate: expected.
        warnings.simplefilter("ignore", OptimizeWarning)
        params, _ = curve_fit(
            usl,
            n,
            x,
            p0=(start, 0.01, 0.001),
            bounds=((1e-9, 0.0, 0.0), (np.inf, 1.0, 1.0)),
            maxfev=20_000,
        )
    lam, sigma, kappa = (float(v) for v in params)
    residual = float(np.sum((x - usl(n, lam, sigma, kappa)) ** 2))
    total = float(np.sum((x - x.mean()) ** 2))
    n_star = math.sqrt((1 - sigma) / kappa) if kappa > 1e-12 else None
    return {
        "lambda": lam,
        "sigma": sigma,
        "kappa": kappa,
        "n_star": n_star,
        "r2": 1 - residual / total if total > 0 else None,
    }


def run_capacity(steps: Sequence[Mapping[str, Any]], slo_ms: float | None) -> dict[str, Any]:
    """Knee, saturated throughput and (with an SLO) SLO capacity of one mode x workers sweep."""
    usable = [s for s in steps if s["in_fit"] and s["latency_ms"]["p99"] is not None]
    left_out = [s["rho"] for s in steps if not s["in_fit"]]
    result: dict[str, Any] = {
        "slo_p99_ms": slo_ms,
        "slo_capacity_per_s": None,
        "slo_capacity_how": None,
        "accept_p99_ms_at_capacity": None,
        "knee": None,
        "saturated_per_s": max((s["achieved_per_s"] for s in usable), default=None),
        "left_out_rho": left_out,
    }
    if not usable:
        return result
    knee = knee_index([(s["achieved_per_s"], s["latency_ms"]["mean"] or 0.0) for s in usable])
    if knee is not None:
        step = usable[knee]
        result["knee"] = {
            "rho": step["rho"],
            "throughput_per_s": step["achieved_per_s"],
            "p99_ms": step["latency_ms"]["p99"],
        }
    if slo_ms is not None:
        points = [(s["achieved_per_s"], s["latency_ms"]["p99"]) for s in usable]
        capacity, how = slo_capacity(points, slo_ms)
        result["slo_capacity_per_s"], result["slo_capacity_how"] = capacity, how
        within = [s for s in usable if s["latency_ms"]["p99"] <= slo_ms]
        if within:
            result["accept_p99_ms_at_capacity"] = within[-1]["accept_latency_ms"]["p99"]
    return result


def _efficiency(points: Mapping[int, float]) -> dict[str, float] | None:
    one = points.get(1)
    if not one:
        return None
    return {str(n): x / (n * one) for n, x in sorted(points.items())}


def _coherency_cause(efficiency: Mapping[str, float]) -> str:
    """Coherency in words: throughput that falls past a peak, or one that only stops growing
    (a hard limit, such as the machine's cores, which the USL can only draw as kappa)."""
    relative = {int(n): value * int(n) for n, value in efficiency.items()}  # X(N) / X(1)
    largest = max(relative)
    best = max(relative.values())
    if relative[largest] < (1 - PLATEAU_TOLERANCE) * best:
        return " (coherency kappa dominates: adding workers past N* makes it slower)"
    reached = min(n for n, x in relative.items() if x >= (1 - PLATEAU_TOLERANCE) * best)
    return (
        f" (it stops growing past {reached} workers: a hard limit such as the machine's cores, "
        "which the USL fits as coherency kappa; more worker counts would tell a plateau from "
        "a decline)"
    )


def _verdict(
    mode: str,
    runs: Sequence[Mapping[str, Any]],
    efficiency: Mapping[str, float] | None,
    fit: Mapping[str, Any] | None,
) -> str:
    """Which of the two problems the data shows, in words."""
    words = []
    slow = []
    if not any(s["in_fit"] for run in runs for s in run["steps"]):
        return f"no verdict: no {mode} step was usable (see the steps left out)"
    for run in runs:
        lowest = next((s for s in run["steps"] if s["in_fit"]), None)
        slo = run["capacity"]["slo_p99_ms"]
        if lowest is None:
            continue
        mean, p99 = lowest["latency_ms"]["mean"], lowest["latency_ms"]["p99"]
        service = lowest["predicted"]["service_ms"]
        if (slo is not None and p99 > slo) or (mean and mean > LOW_LOAD_SLOWDOWN * service):
            slow.append(f"x{run['workers']} (p99 {p99:.0f} ms at rho {lowest['rho']:g})")
    if slow:
        words.append(f"performance problem: {mode} is slow even at low load in " + ", ".join(slow))
    if efficiency:
        largest = max(efficiency, key=int)
        value = efficiency[largest]
        if value < EFFICIENCY_FLOOR:
            cause = ""
            if fit is not None:
                cause = (
                    _coherency_cause(efficiency)
                    if fit["kappa"] * int(largest) > fit["sigma"]
                    else " (contention sigma dominates: a shared resource serialises the work)"
                )
            words.append(
                f"scalability problem: {mode} throughput keeps only {value:.0%} of linear "
                f"scaling at {largest} workers{cause}"
            )
    if not words:
        scaling = (
            "scales near-linearly"
            if efficiency and len(efficiency) >= 2
            else "is fast at low load (one worker count: scaling not measured)"
        )
        words.append(f"neither problem: {mode} {scaling} and meets its objective at low load")
    return "; ".join(words)


def _law(points: Mapping[int, float]) -> dict[str, Any]:
    """Throughput per worker count, scaling efficiency and (three or more counts) the USL fit."""
    fit = None
    note = None
    if len(points) >= 3:
        try:
            fit = fit_usl(list(points), list(points.values()))
        except (RuntimeError, ValueError) as exc:
            note = f"USL fit failed: {exc}"
    else:
        note = "the USL fit needs three or more worker counts"
    return {
        "throughput_per_s": {str(n): x for n, x in sorted(points.items())},
        "efficiency": _efficiency(points),
        "usl": fit,
        "note": note,
    }


def scaling_section(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per mode: capacity per worker count, efficiency, the USL fit (>= 3 counts) and a verdict.

    The headline fit uses SLO capacity when every worker count's sweep crossed the SLO between
    two steps, else the saturated (highest achieved) throughput; ``saturated`` always holds the
    fit of the saturated throughput too. SLO capacity can grow faster than N (at the same
    utilisation more servers wait less), so the scalability verdict reads the saturated
    efficiency. Steps where the generator fell behind were already left out of both.
    """
    section: dict[str, Any] = {}
    for mode in ("sync", "async"):
        mine = sorted(
            (r for r in runs if r["mode"] == mode and "capacity" in r), key=lambda r: r["workers"]
        )
        if not mine:
            continue
        # SLO capacity only where every sweep crossed the SLO (else some are lower bounds).
        crossed = all(r["capacity"]["slo_capacity_how"] == "interpolated" for r in mine)
        basis = "slo_capacity" if crossed else "saturated"

        def points(key: str, of: Sequence[Mapping[str, Any]] = mine) -> dict[int, float]:
            return {
                int(r["workers"]): float(r["capacity"][key])
                for r in of
                if r["capacity"][key] is not None
            }

        saturated = _law(points("saturated_per_s"))
        headline = _law(points("slo_capacity_per_s")) if crossed else saturated
        judged = saturated if saturated["efficiency"] else headline
        section[mode] = {
            "basis": basis,
            **headline,
            "saturated": saturated,
            "verdict": _verdict(mode, mine, judged["efficiency"], judged["usl"]),
        }
    return section


def capacity_sentence(run: Mapping[str, Any]) -> str | None:
    """'sync x4 sustains 61 jobs/s at p99 <= 1 s' (async: 'and accepts in 7 ms')."""
    capacity = run.get("capacity") or {}
    slo = capacity.get("slo_p99_ms")
    value = capacity.get("slo_capacity_per_s")
    if slo is None or value is None:
        return None
    limit = f"{slo / 1000:g} s" if slo >= 1000 else f"{slo:g} ms"
    label = f"{run['mode']} \u00d7{run['workers']}"
    if capacity.get("slo_capacity_how") == "none":
        return f"{label} misses p99 \u2264 {limit} even at the lowest load"
    bound = "at least " if capacity.get("slo_capacity_how") == "at least" else ""
    text = f"{label} sustains {bound}{value:.0f} jobs/s at p99 \u2264 {limit}"
    accept = capacity.get("accept_p99_ms_at_capacity")
    if run["mode"] == "async" and accept is not None:
        text += f" and accepts in {accept:.0f} ms"
    return text


def _step_name(step: Mapping[str, Any]) -> str:
    if "rho" in step:
        return f"\u03c1 {step['rho']:g}"
    return f"B = {step['burst']} ({step['multiple']:g} \u00d7 N/S)"


def sweep_summary(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Top-level sweep figures for summary.json: capacity sentences, scaling, left-out steps."""
    left_out = [
        {"mode": r["mode"], "workers": r["workers"], "step": _step_name(s)}
        for r in runs
        for s in r.get("steps", [])
        if not s["in_fit"]
    ]
    sentences = [line for r in runs if (line := capacity_sentence(r))]
    section: dict[str, Any] = {"capacity_sentences": sentences, "left_out_steps": left_out}
    if any("capacity" in r for r in runs):
        section["scaling"] = scaling_section(runs)
    return section
