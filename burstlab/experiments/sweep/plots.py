"""Sweep pictures: the latency-throughput curve, the scaling law, and burst size against drain."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from burstlab.experiments.render.plots import COLORS, LINESTYLES, _figure, _save
from burstlab.experiments.sweep.capacity import usl

if TYPE_CHECKING:
    from matplotlib.axes import Axes

ACCEPT_COLOR = "tab:green"
MARKERS = ("o", "s", "^", "D", "v")


def _sweep_runs(summary: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    runs = [r for r in summary.get("runs", []) if r.get("sweep") == kind]
    return sorted(runs, key=lambda r: (r["mode"] != "sync", r["workers"]))


def _slo(summary: Mapping[str, Any]) -> float | None:
    for run in summary.get("runs", []):
        slo = (run.get("capacity") or {}).get("slo_p99_ms")
        if slo is not None:
            return float(slo)
    return None


def _style(runs: Sequence[Mapping[str, Any]], run: Mapping[str, Any]) -> tuple[str, str]:
    workers = sorted({r["workers"] for r in runs})
    index = workers.index(run["workers"])
    return MARKERS[index % len(MARKERS)], LINESTYLES[index % len(LINESTYLES)]


def plot_latency_curve(summary: Mapping[str, Any], path: Path) -> Path:
    """p99 latency (log) against achieved throughput, one line per mode x workers.

    Measured lines are solid with a marker per step; the M/G/c p99 prediction is dashed (stable
    steps only); async accept p99 is its own green line; the SLO is a horizontal line and each
    knee a ringed point. Steps where the generator fell behind are drawn hollow.
    """
    figure, (ax,) = _figure(width=8.0)
    runs = _sweep_runs(summary, "rho")
    for run in runs:
        marker, _ = _style(runs, run)
        color = COLORS[run["mode"]]
        label = f"{run['mode']} \u00d7{run['workers']}"
        steps = [s for s in run["steps"] if s["latency_ms"]["p99"] is not None]
        xs = [s["achieved_per_s"] for s in steps]
        ax.plot(
            xs, [s["latency_ms"]["p99"] for s in steps], color=color, marker=marker, label=label
        )
        behind = [s for s in steps if not s["in_fit"]]
        if behind:
            ax.scatter(
                [s["achieved_per_s"] for s in behind],
                [s["latency_ms"]["p99"] for s in behind],
                s=80,
                facecolors="none",
                edgecolors="black",
                zorder=3,
            )
        stable = [s for s in steps if s["predicted"].get("stable")]
        if stable:
            ax.plot(
                [s["predicted"]["rate_per_s"] for s in stable],
                [s["predicted"]["p99_ms"] for s in stable],
                color=color,
                linestyle="--",
                alpha=0.6,
                linewidth=1,
            )
        if run["mode"] == "async":
            accept = [s for s in steps if s["accept_latency_ms"]["p99"] is not None]
            ax.plot(
                [s["achieved_per_s"] for s in accept],
                [max(s["accept_latency_ms"]["p99"], 0.01) for s in accept],
                color=ACCEPT_COLOR,
                marker=marker,
                linewidth=1,
                label=f"async accept \u00d7{run['workers']}",
            )
        capacity = run.get("capacity") or {}
        if capacity.get("slo_capacity_how") == "interpolated":
            ax.scatter(
                [capacity["slo_capacity_per_s"]],
                [capacity["slo_p99_ms"]],
                marker="|",
                s=300,
                color=color,
                linewidths=2,
                zorder=4,
            )
        knee = capacity.get("knee")
        if knee:
            ax.scatter(
                [knee["throughput_per_s"]],
                [knee["p99_ms"]],
                s=160,
                facecolors="none",
                edgecolors=color,
                linewidths=2,
                zorder=4,
            )
    slo = _slo(summary)
    if slo is not None:
        ax.axhline(slo, color="grey", linestyle=":", label=f"SLO p99 {slo:g} ms")
    ax.plot([], [], color="grey", linestyle="--", label="M/G/c prediction")
    ax.scatter([], [], s=160, facecolors="none", edgecolors="grey", label="knee (max power)")
    ax.scatter([], [], marker="|", s=300, color="grey", label="SLO capacity")
    ax.set_yscale("log")
    ax.set_xlabel("achieved throughput (jobs / s)")
    ax.set_ylabel("p99 latency (ms, log)")
    ax.legend(loc="upper left", fontsize="x-small", ncol=2)
    return _save(figure, path)


def _draw_law(ax: Axes, law: Mapping[str, Any], color: str, label: str, marker: str) -> None:
    points = {int(n): x for n, x in law["throughput_per_s"].items()}
    if not points:
        return
    ns = sorted(points)
    ax.plot(ns, [points[n] for n in ns], marker, color=color, label=label)
    fit = law.get("usl")
    if fit:
        top = max(ns[-1], math.ceil(fit["n_star"]) if fit["n_star"] else 0)
        grid = [1 + i * (min(top, 2 * ns[-1]) - 1) / 100 for i in range(101)]
        ax.plot(
            grid,
            [usl(n, fit["lambda"], fit["sigma"], fit["kappa"]) for n in grid],
            "-" if marker == "o" else "--",
            color=color,
            alpha=0.7,
            label=f"{label} USL \u03c3={fit['sigma']:.3f} \u03ba={fit['kappa']:.4f}",
        )


def plot_scaling(summary: Mapping[str, Any], path: Path) -> Path:
    """Capacity against workers per mode: measured points, ideal N X(1) line, fitted USL.

    Filled circles are the headline basis (SLO capacity when every sweep crossed the SLO),
    crosses the saturated throughput when that is not the basis.
    """
    figure, (ax,) = _figure()
    for mode, section in (summary.get("scaling") or {}).items():
        color = COLORS[mode]
        basis = section["basis"].replace("_", " ")
        _draw_law(ax, section, color, f"{mode} {basis}", "o")
        points = {int(n): x for n, x in section["throughput_per_s"].items()}
        if points:
            ns = sorted(points)
            per_worker = points[ns[0]] / ns[0]
            ax.plot(ns, [per_worker * n for n in ns], ":", color=color, label=f"{mode} ideal")
        if section["basis"] != "saturated" and section.get("saturated"):
            _draw_law(ax, section["saturated"], color, f"{mode} saturated", "x")
    ax.set_xlabel("workers N")
    ax.set_ylabel("capacity (jobs / s)")
    ax.legend(loc="upper left", fontsize="x-small")
    return _save(figure, path)


def plot_burst_sweep(summary: Mapping[str, Any], path: Path) -> Path:
    """p99 latency and drain time against burst size B, with the ceil(B / N) S line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11.0, 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    latency_ax, drain_ax = figure.subplots(1, 2)  # own y axes: ms (log) and seconds
    runs = _sweep_runs(summary, "burst")
    for run in runs:
        marker, style = _style(runs, run)
        color = COLORS[run["mode"]]
        label = f"{run['mode']} \u00d7{run['workers']}"
        steps = run["steps"]
        bs = [s["burst"] for s in steps]
        latency_ax.plot(
            bs,
            [s["latency_ms"]["p99"] or math.nan for s in steps],
            color=color,
            marker=marker,
            linestyle=style,
            label=f"{label} p99",
        )
        if run["mode"] == "async":
            latency_ax.plot(
                bs,
                [s["accept_latency_ms"]["p99"] or math.nan for s in steps],
                color=ACCEPT_COLOR,
                marker=marker,
                linestyle=style,
                label=f"async accept \u00d7{run['workers']}",
            )
        drain_ax.plot(
            bs,
            [s["drain_s"] or math.nan for s in steps],
            color=color,
            marker=marker,
            linestyle=style,
            label=label,
        )
        if run["mode"] == "sync":
            drain_ax.plot(
                bs,
                [s["predicted"]["drain_s"] for s in steps],
                color="grey",
                linestyle=style,
                linewidth=1,
                label=f"\u2308B/N\u2309\u00b7S \u00d7{run['workers']}",
            )
    latency_ax.set_yscale("log")
    latency_ax.set_xlabel("burst size B (jobs)")
    latency_ax.set_ylabel("p99 latency (ms, log)")
    latency_ax.legend(fontsize="x-small")
    drain_ax.set_xlabel("burst size B (jobs)")
    drain_ax.set_title("drain time (s)")
    drain_ax.legend(fontsize="x-small")
    return _save(figure, path)


def write_sweep_plots(out_dir: Path, summary: Mapping[str, Any]) -> list[Path]:
    """The sweep plots that apply to ``summary`` (none for a scenario without sweeps)."""
    kinds = {r.get("sweep") for r in summary.get("runs", [])}
    written = []
    if "rho" in kinds:
        written.append(plot_latency_curve(summary, out_dir / "latency_vs_throughput.png"))
        if summary.get("scaling"):
            written.append(plot_scaling(summary, out_dir / "scaling.png"))
    if "burst" in kinds:
        written.append(plot_burst_sweep(summary, out_dir / "burst_sweep.png"))
    return written
