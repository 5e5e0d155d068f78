"""The autoscale run's report: ``autoscale.png``, ``cost_p99.png`` and the policy tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from burstlab.experiments.render.prediction_tables import prediction_table as replay_table
from burstlab.experiments.render.tables import FLAG, TableData, fmt
from burstlab.experiments.render.task_tables import task_tables
from burstlab.experiments.report import render_html, render_markdown

if TYPE_CHECKING:
    from matplotlib.figure import Figure

POLICY_COLORS = {"fixed-min": "tab:red", "fixed-max": "tab:green", "autoscale": "tab:blue"}


def _figure(rows: int, columns: int, *, sharex: bool, sharey: bool) -> tuple[Figure, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2 * columns, 3.2 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, sharex=sharex, sharey=sharey, squeeze=False)
    return figure, axes


def plot_autoscale(runs: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Backlog (measured, predicted) and replicas (desired, ready) over time, one column per
    policy and a row per mode, on shared axes; the burst window shaded."""
    modes = list(dict.fromkeys(r["mode"] for r in runs))
    policies = list(dict.fromkeys(r["policy"] for r in runs))
    figure, axes = _figure(len(modes), len(policies), sharex=True, sharey=True)
    top = max((r.get("autoscale", {}).get("peak_replicas") or 1 for r in runs), default=1)
    for run in runs:
        ax = axes[modes.index(run["mode"])][policies.index(run["policy"])]
        origin = run.get("load_start_epoch") or 0.0
        timeline = run.get("timeline", [])
        t = [p["epoch_s"] - origin for p in timeline]
        ax.step(t, [p["backlog"] for p in timeline], where="post", color="black", label="backlog")
        if run["mode"] == "async" and any(p["metric"] != p["backlog"] for p in timeline):
            ax.step(t, [p["metric"] for p in timeline], where="post", color="grey", lw=0.8,
                    label="metric")  # fmt: skip
        predicted = run.get("prediction", {}).get("timeline", [])
        ax.plot([p["t_s"] for p in predicted], [p["backlog"] for p in predicted], "k:",
                label="backlog (fluid)")  # fmt: skip
        window = run.get("burst_window_s")
        if window:
            ax.axvspan(window[0], window[1], color="orange", alpha=0.15, label="burst")
        twin = ax.twinx()
        twin.set_ylim(0, top + 1)
        color = POLICY_COLORS.get(run["policy"], "tab:blue")
        twin.step(t, [p["desired"] for p in timeline], where="post", color=color, ls="--",
                  label="desired")  # fmt: skip
        twin.step(t, [p["ready"] for p in timeline], where="post", color=color, label="ready")
        ax.set_title(f"{run['mode']} {run['policy']}")
        ax.set_xlabel("seconds from load start")
        ax.set_ylabel("jobs waiting or running")
        twin.set_ylabel("replicas")
        if run is runs[0]:
            lines = ax.get_legend_handles_labels()
            more = twin.get_legend_handles_labels()
            ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="upper right")
    figure.savefig(path, format="png", dpi=100)
    return path


def plot_cost_p99(runs: Sequence[Mapping[str, Any]], slo_ms: float | None, path: Path) -> Path:
    """Worker-seconds against p99 completion latency, a point per policy (measured filled,
    predicted hollow), the SLO as a vertical line."""
    figure, axes = _figure(1, 1, sharex=False, sharey=False)
    ax = axes[0][0]
    for run in runs:
        color = POLICY_COLORS.get(run["policy"], "tab:blue")
        marker = "o" if run["mode"] == "async" else "s"
        cost = run.get("autoscale", {}).get("worker_seconds")
        p99 = run["latency_ms"]["p99"]
        if cost is not None and p99 is not None:
            ax.scatter([p99 / 1000], [cost], color=color, marker=marker,
                       label=f"{run['mode']} {run['policy']}")  # fmt: skip
        predicted = run.get("prediction", {})
        if predicted.get("p99_ms") is not None:
            ax.scatter([predicted["p99_ms"] / 1000], [predicted["worker_seconds"]],
                       facecolors="none", edgecolors=color, marker=marker)  # fmt: skip
    if slo_ms:
        ax.axvline(slo_ms / 1000, color="black", ls="--", label=f"SLO p99 {slo_ms / 1000:g} s")
    ax.set_xscale("log")
    ax.set_xlabel("p99 completion latency (s, log)")
    ax.set_ylabel("worker-seconds")
    ax.set_title("cost against latency (hollow: fluid model)")
    ax.legend(fontsize=7)
    figure.savefig(path, format="png", dpi=100)
    return path


def verdict_table(summary: Mapping[str, Any]) -> TableData:
    """Per mode: the autoscaled run's cost against fixed-max and p99 against fixed-min."""
    rows = []
    for mode in dict.fromkeys(r["mode"] for r in summary["runs"]):
        by = {r["policy"]: r for r in summary["runs"] if r["mode"] == mode}
        auto, low, high = by.get("autoscale"), by.get("fixed-min"), by.get("fixed-max")
        if not (auto and low and high):
            continue
        cost = auto["autoscale"]["worker_seconds"]
        top = high["autoscale"]["worker_seconds"]
        p99, p99_min = auto["latency_ms"]["p99"], low["latency_ms"]["p99"]
        rows.append(
            (
                mode,
                f"{fmt(cost)} vs {fmt(top)} ({(cost - top) / top:+.0%})" if top else "-",
                f"{fmt(p99)} vs {fmt(p99_min)}" if p99 is not None else "-",
                fmt(auto["autoscale"]["peak_replicas"]),
                fmt(auto["lost"] + low["lost"] + high["lost"]),
            )
        )
    headers = ("mode", "autoscale worker-s vs fixed-max", "autoscale p99 ms vs fixed-min",
               "autoscale peak replicas", "lost, all runs")  # fmt: skip
    return TableData("Autoscaled against fixed", headers, tuple(rows))


def policy_table(summary: Mapping[str, Any]) -> TableData:
    """One row per (mode, policy): the measured figures."""
    slo = summary.get("slo_p99_ms")
    rows = []
    for run in summary["runs"]:
        fig = run.get("autoscale", {})
        p99 = run["latency_ms"]["p99"]
        met = "-" if slo is None or p99 is None else ("yes" if p99 <= slo else "no")
        rows.append(
            (
                f"{run['mode']} {run['policy']}",
                fmt(run["latency_ms"]["p50"]),
                fmt(p99),
                met,
                fmt(fig.get("worker_seconds")),
                fmt(fig.get("peak_replicas")),
                fmt(fig.get("first_scale_up_s")),
                fmt(fig.get("full_capacity_s")),
                fmt(fig.get("drain_s")),
                fmt(run.get("peak_backlog")),
                fmt(fig.get("metric_unseen_mean")),
                fmt(run["lost"]),
                f"{fmt(fig.get('ran_again'))} / {fmt(fig.get('redelivered_done'))}",
            )
        )
    headers = ("run", "p50 ms", "p99 ms", "SLO met", "worker-s", "peak replicas",
               "first up s", "full capacity s", "drain s", "peak backlog",
               "unseen by metric (mean)", "lost", "ran twice / redelivered done")  # fmt: skip
    return TableData("Policies on the same seeded burst", headers, tuple(rows))


def prediction_table(summary: Mapping[str, Any]) -> TableData:
    """Measured beside the fluid model (planned: the policy simulated) and the queue replay
    (the jobs as sent through the replicas as they came, median and 5-95 % band); the flag is
    the replay's (outside its band) where it ran, else the fluid model's (over 20 %)."""
    rows = []
    for run in summary["runs"]:
        cells = [f"{run['mode']} {run['policy']}"]
        replay_checks = (run.get("replay") or {}).get("checks", {})
        for name, replay_name, scale in (
            ("drain_s", "drain_s", 1.0),
            ("peak_backlog", "peak_backlog", 1.0),
            ("p99_ms", "p99_s", 1000.0),
            ("worker_seconds", None, 1.0),
        ):
            item = run.get("deviations", {}).get(name, {})
            dev = item.get("deviation")
            cell = f"{fmt(item.get('measured'))} / {fmt(item.get('predicted'))}"
            cell += "" if dev is None else f" ({dev:+.0%})"
            replayed = replay_checks.get(replay_name) if replay_name else None
            if replayed is not None:
                low, high = fmt(replayed["low"] * scale), fmt(replayed["high"] * scale)
                flag = f" {FLAG}" if replayed["flagged"] else ""
                cell += f"; replayed {fmt(replayed['predicted'] * scale)} ({low}\u2013{high}){flag}"
            elif item.get("flagged"):
                cell += f" {FLAG}" + _scaler_note(run)
            cells.append(cell)
        rows.append(tuple(cells))
    headers = ("run", "drain s", "peak backlog", "p99 ms", "worker-s")
    title = "Measured / fluid model (planned); replayed through the replicas as they came"
    return TableData(title, headers, tuple(rows))


def _scaler_note(run: Mapping[str, Any]) -> str:
    """Why a figure only the fluid model predicts is off, when the scaler decided otherwise."""
    measured = (run.get("autoscale") or {}).get("peak_replicas")
    planned = (run.get("prediction") or {}).get("peak_replicas")
    if measured is None or planned is None or measured == planned:
        return ""
    return (
        f" (planned only: the scaler asked for {measured} replicas at the peak, the plan {planned})"
    )


def replay_checks_table(summary: Mapping[str, Any]) -> TableData:
    """Every figure the queue replay checked, per run (drain, mean, p50, p99, peak backlog)."""
    runs = [
        {"label": f"{r['mode']} {r['policy']}", "mode": r["mode"], "prediction": r["replay"]}
        for r in summary["runs"]
        if r.get("replay")
    ]
    table = replay_table(runs)
    title = "Replayed through the replicas as they came, every figure"
    return TableData(title, table.headers, table.rows)


def write_autoscale_report(out_dir: Path, summary: Mapping[str, Any]) -> list[Path]:
    """Write the two plots, report.md and report.html; return every file written."""
    runs = summary["runs"]
    plots = [
        plot_autoscale(runs, out_dir / "autoscale.png"),
        plot_cost_p99(runs, summary.get("slo_p99_ms"), out_dir / "cost_p99.png"),
    ]
    tables = [
        verdict_table(summary),
        policy_table(summary),
        prediction_table(summary),
        replay_checks_table(summary),
    ]
    tables = task_tables(summary) + tables
    view = {"scenario": summary["scenario"], "description": summary.get("description"), "runs": []}
    markdown = out_dir / "report.md"
    markdown.write_text(render_markdown(view, tables, plots), encoding="utf-8")
    page = out_dir / "report.html"
    page.write_text(render_html(view, tables, plots), encoding="utf-8")
    return [*plots, markdown, page]
