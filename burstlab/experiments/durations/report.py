"""Report pieces of a duration sweep: drains per duration beside the prediction, the crossover
(measured and predicted), each mode's per-job overhead, and the drain-against-duration plot."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from burstlab.experiments.durations.crossover import ABOVE, BELOW, CROSSED, NEVER
from burstlab.experiments.render.plots import COLORS, _save
from burstlab.experiments.render.tables import FLAG, TableData, fmt

RATIO_COLOR = "tab:purple"


def _runs(summary: Mapping[str, Any]) -> dict[tuple[int, str], Mapping[str, Any]]:
    return {
        (int(r["workers"]), r["mode"]): r
        for r in summary.get("runs", [])
        if r.get("sweep") == "duration"
    }


def _range(step: Mapping[str, Any]) -> str:
    low, high = step["drain_min_s"], step["drain_max_s"]
    return "\u2013" if low is None else f"{low:.2f}\u2013{high:.2f}"


def _deviation(step: Mapping[str, Any]) -> str:
    deviation = step["deviation"]
    if deviation is None:
        return "\u2013"
    return f"{deviation:+.0%}" + (f" {FLAG}" if step["flagged"] else "")


def _noop_range(run: Mapping[str, Any]) -> str:
    drains = [d for d in run["calibration"]["noop_drains_s"] if d is not None]
    return f"{min(drains):.2f}\u2013{max(drains):.2f}" if drains else "\u2013"


def drains_table(summary: Mapping[str, Any]) -> TableData:
    """Per worker count and duration: each mode's drain (median, range), prediction, ratio."""
    runs = _runs(summary)
    rows = []
    for section in summary.get("crossover", []):
        workers = section["workers"]
        sync, run = runs[(workers, "sync")], runs[(workers, "async")]
        label = f"\u00d7{workers}, B = {section['burst']}"
        rows.append(
            (
                label, "0 (no-op)",
                fmt(sync["calibration"]["noop_drain_s"], 3), _noop_range(sync), "calibration", "",
                fmt(run["calibration"]["noop_drain_s"], 3), _noop_range(run), "calibration", "",
                "", "", "",
            )
        )  # fmt: skip
        steps = zip(sync["steps"], run["steps"], strict=True)
        ratios = zip(section["ratios"], section["predicted_ratios"], strict=True)
        for (s, a), (ratio, predicted) in zip(steps, ratios, strict=True):
            lag = [m for m, step in (("sync", s), ("async", a)) if step["generator_fell_behind"]]
            rows.append(
                (
                    label, f"{s['duration_ms']:g}",
                    fmt(s["drain_s"], 3), _range(s), fmt(s["predicted_drain_s"], 3), _deviation(s),
                    fmt(a["drain_s"], 3), _range(a), fmt(a["predicted_drain_s"], 3), _deviation(a),
                    fmt(ratio, 2), fmt(predicted, 2),
                    f"{FLAG} sent spread out: {', '.join(lag)}" if lag else "",
                )
            )  # fmt: skip
    headers = (
        "run", "job ms", "sync drain s", "range", "predicted", "dev", "async drain s", "range",
        "predicted", "dev", "async / sync", "predicted", "",
    )  # fmt: skip
    return TableData(
        "Job durations (drain: median of the bursts, and their range; predicted: "
        "\u2308B/N\u2309\u00b7(d + o), o from the no-op bursts)",
        headers,
        tuple(rows),
    )


def _cell(crossing: Mapping[str, Any] | None, durations: Sequence[float]) -> str:
    if crossing is None:
        return "\u2013"
    how, value = crossing["how"], crossing["duration_ms"]
    if how == CROSSED:
        return f"{value:.1f} ms"
    if how == ABOVE:
        return f"> {durations[-1]:g} ms (slower at every duration)"
    if how == NEVER:
        return "none: slower at every duration"
    assert how == BELOW
    return f"< {durations[0]:g} ms (at no duration)" if value is None else "0: at no duration"


def crossover_table(summary: Mapping[str, Any]) -> TableData:
    """Below which job duration async drains slower (or more than the tolerance slower)."""
    rows = []
    for section in summary.get("crossover", []):
        durations = section["durations_ms"]
        tolerance = section["beyond_tolerance"]["tolerance"]
        for key, what in (
            ("slower", "async drain > sync drain"),
            ("beyond_tolerance", f"async drain > {1 + tolerance:g} \u00d7 sync drain"),
        ):
            pair = section[key]
            rows.append(
                (
                    f"\u00d7{section['workers']}, B = {section['burst']}",
                    what,
                    _cell(pair["measured"], durations),
                    _cell(pair["predicted"], durations),
                    _cell(pair["fitted"], durations),
                )
            )
    headers = (
        "run", "async stops paying below the job duration where", "measured",
        "predicted (no-op overheads)", "fitted (overheads fitted to every drain)",
    )  # fmt: skip
    return TableData("Crossover", headers, tuple(rows))


def overhead_table(summary: Mapping[str, Any]) -> TableData:
    """Per mode: the no-op calibration's per-job overhead beside those fitted to the drains."""
    runs = _runs(summary)
    rows = []
    for section in summary.get("crossover", []):
        for mode in ("sync", "async"):
            run = runs[(section["workers"], mode)]
            fit = section["fit"][mode] or {}
            rows.append(
                (
                    f"{mode} \u00d7{section['workers']}",
                    fmt(run["calibration"]["noop_drain_s"], 3),
                    _noop_range(run),
                    fmt(run["calibration"]["overhead_ms"], 2),
                    fmt(fit.get("overhead_ms"), 2),
                    fmt(fit.get("slope_of_rounds"), 2),
                    fmt(fit.get("r2"), 3),
                )
            )
    headers = (
        "run", "no-op drain s", "range", "o ms (no-op)", "o ms (fitted)",
        "free line: slope / \u2308B/N\u2309", "R\u00b2",
    )  # fmt: skip
    return TableData(
        "Per-job overhead o (no-op: median no-op drain / \u2308B/N\u2309; fitted: least squares "
        "of drain = \u2308B/N\u2309\u00b7(d + o) over every duration)",
        headers,
        tuple(rows),
    )


def duration_tables(summary: Mapping[str, Any]) -> list[TableData]:
    """The duration-sweep tables that have rows."""
    tables = [crossover_table(summary), drains_table(summary), overhead_table(summary)]
    return [t for t in tables if t.rows]


def _vertical(ax: Any, crossing: Mapping[str, Any] | None, style: str, label: str) -> None:
    if crossing and crossing["how"] == CROSSED:
        ax.axvline(crossing["duration_ms"], color="grey", linestyle=style, label=label)


def plot_duration_sweep(summary: Mapping[str, Any], path: Path) -> Path:
    """Drain against job duration (log-log) per mode with the prediction, and the ratio."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(11.0, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    drain_ax, ratio_ax = figure.subplots(1, 2)
    runs = _runs(summary)
    for section in summary.get("crossover", []):
        durations = section["durations_ms"]
        suffix = f" \u00d7{section['workers']}" if len(summary["crossover"]) > 1 else ""
        for mode in ("sync", "async"):
            steps = runs[(section["workers"], mode)]["steps"]
            drains = [s["drain_s"] or math.nan for s in steps]
            low = [d - (s["drain_min_s"] or d) for d, s in zip(drains, steps, strict=True)]
            high = [(s["drain_max_s"] or d) - d for d, s in zip(drains, steps, strict=True)]
            drain_ax.errorbar(
                durations, drains, yerr=[low, high], color=COLORS[mode], marker="o",
                linestyle="none", capsize=3, label=f"{mode}{suffix} measured",
            )  # fmt: skip
            drain_ax.plot(
                durations,
                [s["predicted_drain_s"] or math.nan for s in steps],
                color=COLORS[mode],
                linestyle="--",
                label=f"{mode}{suffix} predicted",
            )
        ratio_ax.plot(
            durations,
            [r or math.nan for r in section["ratios"]],
            color=RATIO_COLOR,
            marker="o",
            linestyle="none",
            label=f"measured{suffix}",
        )
        ratio_ax.plot(
            durations,
            [r or math.nan for r in section["predicted_ratios"]],
            color=RATIO_COLOR,
            linestyle="--",
            label=f"predicted{suffix}",
        )
        fitted = section["fitted_overhead_ms"]
        if fitted["sync"] is not None and fitted["async"] is not None:
            ratio_ax.plot(
                durations,
                [(d + fitted["async"]) / (d + fitted["sync"]) for d in durations],
                color=RATIO_COLOR,
                linestyle=":",
                label=f"fitted{suffix}",
            )
        tolerance = section["beyond_tolerance"]["tolerance"]
        ratio_ax.axhline(
            1 + tolerance,
            color="grey",
            linewidth=1,
            linestyle=":",
            label=f"1 + tolerance = {1 + tolerance:g}",
        )
        _vertical(ratio_ax, section["beyond_tolerance"]["measured"], "-", "crossover measured")
        _vertical(ratio_ax, section["beyond_tolerance"]["predicted"], "--", "crossover predicted")
    ratio_ax.axhline(1.0, color="black", linewidth=1)
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    drain_ax.set_xscale("log")
    drain_ax.set_yscale("log")
    for axis in (drain_ax.xaxis, drain_ax.yaxis, ratio_ax.xaxis):
        axis.set_major_formatter(plain)
    drain_ax.set_xlabel("job duration d (ms, log)")
    drain_ax.set_ylabel("drain: first send to last completion (s, log)")
    drain_ax.legend(fontsize="x-small")
    ratio_ax.set_xscale("log")
    ratio_ax.set_xlabel("job duration d (ms, log)")
    ratio_ax.set_ylabel("async drain / sync drain")
    ratio_ax.legend(fontsize="x-small")
    return _save(figure, path)


def write_duration_plots(out_dir: Path, summary: Mapping[str, Any]) -> list[Path]:
    """The duration-sweep plot, if the summary has a crossover section."""
    if not summary.get("crossover"):
        return []
    return [plot_duration_sweep(summary, out_dir / "duration_sweep.png")]


def duration_notes(summary: Mapping[str, Any]) -> list[str]:
    """The crossover sentences for the report's "what happened"."""
    return [f"- {line}" for line in summary.get("crossover_sentences", [])]
