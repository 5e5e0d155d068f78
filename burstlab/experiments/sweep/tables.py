"""Report tables of a sweep: each step measured beside its prediction, capacity, scaling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from burstlab.experiments.render.tables import FLAG, TableData, fmt


def _label(run: Mapping[str, Any]) -> str:
    return f"{run['mode']} \u00d7{run['workers']}"


def _predicted(step: Mapping[str, Any], key: str) -> str:
    predicted = step["predicted"]
    return fmt(predicted.get(key)) if predicted.get("stable") else "unstable"


def _replayed(step: Mapping[str, Any], figure: str) -> str:
    """The replayed prediction's median and 5-95 % band of ``figure`` (ms), else M/G/c's."""
    band = ((step.get("replay") or {}).get("replayed") or {}).get(f"{figure}_s")
    if band is None:
        return _predicted(step, f"{figure}_ms")
    return (
        f"{fmt(band['median'] * 1000)} ({fmt(band['low'] * 1000)}\u2013{fmt(band['high'] * 1000)})"
    )


def steps_table(runs: Sequence[Mapping[str, Any]]) -> TableData:
    """One row per rho step: offered/achieved rate, latency measured vs predicted, waits."""
    rows = []
    for run in runs:
        if run.get("sweep") != "rho":
            continue
        for s in run["steps"]:
            lat = s["latency_ms"]
            flags = []
            if s["generator_fell_behind"]:
                flags.append(f"{FLAG} generator behind: left out")
            if s.get("deviation_reason"):
                flags.append(f"{FLAG} off prediction")
            rows.append(
                (
                    _label(run),
                    f"{s['rho']:g}",
                    fmt(s["offered_per_s"]),
                    fmt(s["achieved_per_s"]),
                    fmt(lat["mean"]),
                    _replayed(s, "mean"),
                    _predicted(s, "mean_ms"),
                    fmt(lat["p50"]),
                    _replayed(s, "p50"),
                    fmt(lat["p90"]),
                    fmt(lat["p99"]),
                    _replayed(s, "p99"),
                    fmt(lat["p999"]),
                    fmt(s["accept_latency_ms"]["p99"]) if run["mode"] == "async" else "\u2013",
                    fmt(s["queue_wait_ms"]["mean"]),
                    _predicted(s, "mean_wait_ms"),
                    fmt(s["backlog"]["mean"]),
                    "; ".join(flags),
                )
            )
    headers = (
        "run", "\u03c1", "offered /s", "achieved /s", "mean", "replayed mean", "M/G/c mean",
        "p50", "replayed p50", "p90", "p99", "replayed p99", "p99.9", "accept p99",
        "queue wait", "M/G/c wait", "backlog", "",
    )  # fmt: skip
    title = (
        "Sweep steps (latency ms: sync response, async completion; replayed: the queue replay "
        "of the jobs as sent, median and 5\u201395 % band; M/G/c at the planned rate)"
    )
    return TableData(title, headers, tuple(rows))


def capacity_table(runs: Sequence[Mapping[str, Any]]) -> TableData:
    """SLO capacity, knee and saturated throughput per mode x workers."""
    rows = []
    for run in runs:
        cap = run.get("capacity")
        if not cap:
            continue
        knee = cap.get("knee") or {}
        rows.append(
            (
                _label(run),
                fmt(cap["slo_p99_ms"], 0),
                fmt(cap["slo_capacity_per_s"]),
                cap["slo_capacity_how"] or "\u2013",
                fmt(cap["accept_p99_ms_at_capacity"]) if run["mode"] == "async" else "\u2013",
                f"{knee['rho']:g}" if knee else "\u2013",
                fmt(knee.get("throughput_per_s")),
                fmt(knee.get("p99_ms")),
                fmt(cap["saturated_per_s"]),
                ", ".join(f"{r:g}" for r in cap["left_out_rho"]) or "\u2013",
            )
        )
    headers = (
        "run", "SLO p99 ms", "SLO capacity /s", "how", "accept p99 ms", "knee \u03c1",
        "knee /s", "knee p99 ms", "saturated /s", "\u03c1 left out",
    )  # fmt: skip
    return TableData("Capacity", headers, tuple(rows))


def _law_row(mode: str, basis: str, law: Mapping[str, Any], verdict: str) -> tuple[str, ...]:
    fit = law.get("usl") or {}
    efficiency = law.get("efficiency") or {}
    return (
        mode,
        basis.replace("_", " "),
        ", ".join(f"{n}: {x:.1f}" for n, x in law["throughput_per_s"].items()),
        ", ".join(f"{n}: {e:.0%}" for n, e in efficiency.items()) or "\u2013",
        fmt(fit.get("sigma"), 3),
        fmt(fit.get("kappa"), 4),
        fmt(fit.get("n_star")),
        fmt(fit.get("r2"), 2),
        law.get("note") or verdict,
    )


def scaling_table(summary: Mapping[str, Any]) -> TableData:
    """USL fit per mode (and of the saturated throughput): efficiency, sigma, kappa, N*."""
    rows = []
    for mode, section in (summary.get("scaling") or {}).items():
        rows.append(_law_row(mode, section["basis"], section, section["verdict"]))
        if section["basis"] != "saturated" and section.get("saturated"):
            rows.append(_law_row(mode, "saturated", section["saturated"], ""))
    headers = ("mode", "basis", "X(N) /s", "efficiency", "\u03c3", "\u03ba", "N*", "R\u00b2", "")
    return TableData("Scaling (Universal Scalability Law)", headers, tuple(rows))


def burst_steps_table(runs: Sequence[Mapping[str, Any]]) -> TableData:
    """One row per burst size: p99, accept p99, drain against ceil(B / N) S."""
    rows = []
    for run in runs:
        if run.get("sweep") != "burst":
            continue
        for s in run["steps"]:
            deviation = s["drain_deviation"]
            rows.append(
                (
                    _label(run),
                    f"{s['multiple']:g}",
                    fmt(s["burst"]),
                    fmt(s["latency_ms"]["p99"]),
                    fmt(s["predicted"]["p99_ms"]),
                    fmt(s["accept_latency_ms"]["p99"]) if run["mode"] == "async" else "\u2013",
                    fmt(s["drain_s"], 2),
                    fmt(s["predicted"]["drain_s"], 2),
                    f"{deviation:+.0%}" if deviation is not None else "\u2013",
                    fmt(s["lost"] + s["errors"]),
                )
            )
    headers = (
        "run", "\u00d7 N/S", "B", "p99 ms", "pred. p99 ms", "accept p99 ms", "drain s",
        "\u2308B/N\u2309\u00b7S", "deviation", "lost+errors",
    )  # fmt: skip
    return TableData("Burst sizes", headers, tuple(rows))


def sweep_tables(summary: Mapping[str, Any]) -> list[TableData]:
    """The sweep tables that have rows."""
    runs = list(summary.get("runs", []))
    tables = [capacity_table(runs), scaling_table(summary), steps_table(runs)]
    tables.append(burst_steps_table(runs))
    return [t for t in tables if t.rows]


def sweep_notes(summary: Mapping[str, Any]) -> list[str]:
    """Capacity sentences, verdicts, and which steps were left out or deviate, for the report."""
    lines = [f"- {s}" for s in summary.get("capacity_sentences", [])]
    lines += [f"- {mode}: {s['verdict']}" for mode, s in (summary.get("scaling") or {}).items()]
    left = summary.get("left_out_steps") or []
    rho_steps = [s for s in left if s["step"].startswith("\u03c1")]
    bursts = [s for s in left if not s["step"].startswith("\u03c1")]
    if rho_steps:
        where = ", ".join(f"{s['mode']} \u00d7{s['workers']} {s['step']}" for s in rho_steps)
        lines.append(
            f"- {FLAG} the generator fell behind (or nothing completed) in these steps, left "
            f"out of the knee, SLO capacity and fit: {where}"
        )
    if bursts:
        where = ", ".join(f"{s['mode']} \u00d7{s['workers']} {s['step']}" for s in bursts)
        lines.append(
            f"- {FLAG} sending these bursts took the generator longer than one S (p99 send "
            f"lag), so they arrived spread out rather than at once: {where}"
        )
    for run in summary.get("runs", []):
        for step in run.get("deviating_steps", []):
            lines.append(f"- {_label(run)} \u03c1 {step['rho']:g}: {step['reason']}")
    return lines
