"""PNG plots of a scenario's runs, drawn on Agg figures (no pyplot, no global backend state)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from burstlab.experiments.model.records import JobRow
from burstlab.experiments.model.stats import (
    backlog_series,
    offered_completed_series,
    run_keys,
    run_rows,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLORS = {"sync": "tab:red", "async": "tab:blue"}
LINESTYLES = ("-", "--", ":", "-.")
MODE_LINESTYLES = {"sync": "-", "async": "--"}


def _figure(columns: int = 1, width: float = 6.0) -> tuple[Figure, list[Axes]]:
    """A figure on the Agg canvas with ``columns`` side-by-side axes sharing y."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(max(width * columns * 0.75, width), 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, max(columns, 1), sharey=True, squeeze=False)[0]
    return figure, list(axes)


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, format="png", dpi=100)
    return path


def _workers(rows: Sequence[JobRow]) -> list[int]:
    return sorted({r.workers for r in rows}) or [0]


def _burst_span(rows: Sequence[JobRow], origin: float) -> tuple[float, float] | None:
    burst = [r.intended - origin for r in rows if r.in_burst]
    if not burst:
        return None
    # A burst sent at one instant still gets a visible band.
    return min(burst), max(max(burst), min(burst) + 0.05)


def plot_latency_over_time(rows: Sequence[JobRow], path: Path) -> Path:
    """Corrected latency by intended send time, sync and async together, a panel per N.

    Async jobs get two series: when the caller had its 202 (accept) and when the job finished.
    """
    workers = _workers(rows)
    figure, axes = _figure(len(workers))
    for ax, n in zip(axes, workers, strict=True):
        for mode in ("sync", "async"):
            run = [r for r in run_rows(rows, mode, n) if r.latency_s is not None]
            if not run:
                continue
            origin = min(r.intended for r in run_rows(rows, mode, n))
            xs = [r.intended - origin for r in run]
            ys = [max(r.latency_s or 0.0, 1e-6) * 1000 for r in run]
            label = "sync (answered when done)" if mode == "sync" else "async job finished"
            ax.scatter(xs, ys, s=6, color=COLORS[mode], label=label, alpha=0.7)
            if mode == "async":
                accepted = [r for r in run if r.accept_latency_s is not None]
                ax.scatter(
                    [r.intended - origin for r in accepted],
                    [max(r.accept_latency_s or 0.0, 1e-6) * 1000 for r in accepted],
                    s=6,
                    marker="x",
                    color="tab:green",
                    label="async accepted (202)",
                    alpha=0.7,
                )
            span = _burst_span(run_rows(rows, mode, n), origin)
            if span:
                ax.axvspan(*span, color="orange", alpha=0.15)
        ax.set_yscale("log")
        ax.set_title(f"{n} worker(s)")
        ax.set_xlabel("intended send (s from start)")
        ax.legend(loc="center right", fontsize="small")
    axes[0].set_ylabel("latency from intended send (ms, log)")
    return _save(figure, path)


def plot_offered_vs_completed(rows: Sequence[JobRow], path: Path, bin_s: float = 1.0) -> Path:
    """Jobs offered and completed per second, one panel per worker count."""
    workers = _workers(rows)
    figure, axes = _figure(len(workers))
    for ax, n in zip(axes, workers, strict=True):
        offered_drawn = False  # both modes replay the same schedule: draw offered once
        for mode in ("sync", "async"):
            series = offered_completed_series(run_rows(rows, mode, n), bin_s)
            if not series:
                continue
            # Repeat the last bin at its end so step(where="post") draws its full width.
            xs = [b.start_s for b in series] + [series[-1].start_s + bin_s]
            if not offered_drawn:
                offered_drawn = True
                offered = [b.offered / bin_s for b in series]
                ax.step(xs, [*offered, offered[-1]], where="post", color="grey", label="offered")
            completed = [b.completed / bin_s for b in series]
            ax.step(
                xs,
                [*completed, completed[-1]],
                where="post",
                color=COLORS[mode],
                linestyle=MODE_LINESTYLES[mode],
                label=f"{mode} completed",
            )
        ax.set_title(f"{n} worker(s)")
        ax.set_xlabel("time (s from start)")
        ax.legend(loc="upper right", fontsize="small")
    axes[0].set_ylabel("jobs / s")
    return _save(figure, path)


def plot_backlog(rows: Sequence[JobRow], path: Path, step_s: float = 0.1) -> Path:
    """Jobs waiting over time (async: accepted not started; sync: sent not answered)."""
    workers = _workers(rows)
    figure, axes = _figure(len(workers))
    for ax, n in zip(axes, workers, strict=True):
        for mode in ("sync", "async"):
            series = backlog_series(run_rows(rows, mode, n), step_s)
            if series:
                ax.plot(
                    [p.t_s for p in series],
                    [p.backlog for p in series],
                    color=COLORS[mode],
                    label=mode,
                )
        ax.set_title(f"{n} worker(s)")
        ax.set_xlabel("time (s from start)")
        ax.legend(loc="upper right", fontsize="small")
    axes[0].set_ylabel("backlog (jobs)")
    return _save(figure, path)


def plot_latency_cdf(rows: Sequence[JobRow], path: Path) -> Path:
    """Empirical CDF of corrected latency, one line per mode x workers."""
    figure, (ax,) = _figure()
    workers = _workers(rows)
    for mode, n in run_keys(rows):
        values = sorted(
            max(r.latency_s or 0.0, 1e-6) * 1000
            for r in run_rows(rows, mode, n)
            if r.latency_s is not None
        )
        if values:
            fractions = [(i + 1) / len(values) for i in range(len(values))]
            style = LINESTYLES[workers.index(n) % len(LINESTYLES)]
            ax.step(
                values,
                fractions,
                where="post",
                color=COLORS[mode],
                linestyle=style,
                label=f"{mode} x{n}",
            )
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log)")
    ax.set_ylabel("fraction of jobs")
    ax.legend(loc="lower right", fontsize="small")
    return _save(figure, path)


def _runs(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(summary.get("runs", []))


def plot_throughput_vs_workers(summary: Mapping[str, Any], path: Path) -> Path:
    """Measured throughput per mode against its ideal N / S line (S measured per mode)."""
    figure, (ax,) = _figure()
    runs = _runs(summary)
    for mode in ("sync", "async"):
        mine = sorted((r for r in runs if r["mode"] == mode), key=lambda r: r["workers"])
        if not mine:
            continue
        workers = [r["workers"] for r in mine]
        throughput = [r["throughput_per_s"] for r in mine]
        ax.plot(workers, throughput, marker="o", color=COLORS[mode], label=mode)
        ideal = [
            (r["workers"], r["theory"]["predicted"]["capacity_per_s"])
            for r in mine
            if (r.get("theory") or {}).get("predicted")
        ]
        if ideal:
            xs, ys = zip(*ideal, strict=True)
            ax.plot(xs, ys, linestyle=":", color=COLORS[mode], label=f"{mode} ideal N/S")
    ax.set_xlabel("workers")
    ax.set_ylabel("throughput (jobs / s)")
    ax.legend(loc="upper left", fontsize="small")
    return _save(figure, path)


def plot_latency_throughput(summary: Mapping[str, Any], path: Path) -> Path:
    """p99 latency against throughput, one point per mode x workers."""
    figure, (ax,) = _figure()
    for mode in ("sync", "async"):
        runs = [r for r in _runs(summary) if r["mode"] == mode and r["latency_ms"]["p99"]]
        if not runs:
            continue
        xs = [r["throughput_per_s"] for r in runs]
        ys = [r["latency_ms"]["p99"] for r in runs]
        ax.scatter(xs, ys, color=COLORS[mode], s=30, label=mode)
        # Sync labels above, async below, so equal points stay readable.
        offset = (4, 6) if mode == "sync" else (4, -12)
        for run, x, y in zip(runs, xs, ys, strict=True):
            ax.annotate(
                f"x{run['workers']}", (x, y), xytext=offset, textcoords="offset points",
                fontsize="small", color=COLORS[mode],
            )  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("throughput (jobs / s)")
    ax.set_ylabel("p99 latency (ms, log)")
    ax.legend(loc="upper right", fontsize="small")
    return _save(figure, path)


def write_plots(out_dir: Path, summary: Mapping[str, Any], rows: Sequence[JobRow]) -> list[Path]:
    """All plots into ``out_dir``; returns their paths in report order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = [
        plot_latency_over_time(rows, out_dir / "latency_over_time.png"),
        plot_offered_vs_completed(rows, out_dir / "offered_vs_completed.png"),
        plot_backlog(rows, out_dir / "backlog.png"),
        plot_latency_cdf(rows, out_dir / "latency_cdf.png"),
        plot_throughput_vs_workers(summary, out_dir / "throughput_vs_workers.png"),
    ]
    # A sweep draws latency against throughput as a curve per run (sweep.plots) instead.
    if not any("steps" in run for run in _runs(summary)):
        plots.append(plot_latency_throughput(summary, out_dir / "latency_vs_throughput.png"))
    return plots
