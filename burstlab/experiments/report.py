"""report.md and a self-contained report.html (plots inlined as data URIs) for one results folder.

The summary is the summary.json dict: ``{"scenario": str, "description": str, "runs": [one
summarize_run dict per mode x workers], "thresholds": [ThresholdCheck.to_dict(), ...]}``;
only ``runs`` is required.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from burstlab.experiments.durations.report import (
    duration_notes,
    duration_tables,
    write_duration_plots,
)
from burstlab.experiments.model.records import JobRow
from burstlab.experiments.render.plots import write_plots
from burstlab.experiments.render.prediction_tables import prediction_table, service_table
from burstlab.experiments.render.tables import FLAG, TableData, report_tables
from burstlab.experiments.render.task_tables import task_tables
from burstlab.experiments.sweep.plots import write_sweep_plots
from burstlab.experiments.sweep.tables import sweep_notes, sweep_tables
from burstlab.telemetry.environment import versions_line

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 75rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #eee; margin-bottom: 1rem; }
.warning { color: #a15c00; }
"""


def _title(summary: Mapping[str, Any]) -> str:
    return f"burstlab report: {summary.get('scenario', 'unnamed scenario')}"


def _warnings(summary: Mapping[str, Any]) -> list[str]:
    return [
        f"{FLAG} generator fell behind in {run['mode']} x{run['workers']}: "
        f"p99 send lag {run['generator_lag_ms']['p99']:.1f} ms; offered load was lower than planned"
        for run in summary.get("runs", [])
        if run.get("generator_fell_behind")
    ]


def headline(summary: Mapping[str, Any]) -> list[str]:
    """One sentence per worker count: how each mode answered and how fast the work drained."""
    by_workers: dict[int, dict[str, Mapping[str, Any]]] = {}
    for run in summary.get("runs", []):
        by_workers.setdefault(int(run["workers"]), {})[run["mode"]] = run
    lines = []
    for workers, runs in sorted(by_workers.items()):
        parts = []
        if "sync" in runs:
            sync = runs["sync"]
            parts.append(
                f"sync callers waited p50 {_ms(sync['latency_ms']['p50'])}, "
                f"p99 {_ms(sync['latency_ms']['p99'])} for their answer"
            )
        if "async" in runs:
            run = runs["async"]
            parts.append(
                f"async answered 202 with p99 {_ms(run['accept_latency_ms']['p99'])} "
                f"and finished them p99 {_ms(run['latency_ms']['p99'])} after the intended send"
            )
        for mode, run in runs.items():
            predicted = (run.get("theory") or {}).get("predicted") or {}
            capacity = predicted.get("capacity_per_s")
            ideal = f" (theory N/S = {capacity:.1f}/s)" if capacity else ""
            parts.append(f"{mode} drained at {run['throughput_per_s']:.1f} jobs/s{ideal}")
        lines.append(f"- **{workers} worker(s)**: " + "; ".join(parts) + ".")
    return lines + sweep_notes(summary) + duration_notes(summary)


def _ms(value: float | None) -> str:
    if value is None:
        return "\u2013"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


def _caption(path: Path) -> str:
    return path.stem.replace("_", " ")


def render_markdown(
    summary: Mapping[str, Any], tables: Sequence[TableData], plots: Sequence[Path]
) -> str:
    """The report as Markdown; plots are linked by file name (they sit beside report.md)."""
    lines = [f"# {_title(summary)}", ""]
    if summary.get("description"):
        lines += [str(summary["description"]), ""]
    lines += [f"> {warning}" for warning in _warnings(summary)]
    if summary.get("versions"):
        lines += ["", f"Measured with {versions_line(summary['versions'])}."]
    lines += ["", "## What happened", "", *headline(summary)]
    for table in tables:
        lines += ["", f"## {table.title}", ""]
        lines.append("| " + " | ".join(table.headers) + " |")
        lines.append("|" + "|".join("---" for _ in table.headers) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    lines += ["", "## Plots", ""]
    lines += [f"![{_caption(p)}]({p.name})\n" for p in plots]
    return "\n".join(lines)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(
    summary: Mapping[str, Any], tables: Sequence[TableData], plots: Sequence[Path]
) -> str:
    """The report as one HTML page with every plot embedded."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(_title(summary))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(_title(summary))}</h1>",
    ]
    if summary.get("description"):
        parts.append(f"<p>{esc(str(summary['description']))}</p>")
    parts += [f'<p class="warning">{esc(w)}</p>' for w in _warnings(summary)]
    if summary.get("versions"):
        parts.append(f"<p>Measured with {esc(versions_line(summary['versions']))}.</p>")
    parts.append("<h2>What happened</h2><ul>")
    for line in headline(summary):
        text = esc(line.removeprefix("- "))
        parts.append("<li>" + re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text) + "</li>")
    parts.append("</ul>")
    for table in tables:
        parts.append(f"<h2>{esc(table.title)}</h2><table><thead><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in table.headers]
        parts.append("</tr></thead><tbody>")
        for row in table.rows:
            parts.append("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("<h2>Plots</h2>")
    parts += [
        f'<figure><img alt="{esc(_caption(p))}" src="{_data_uri(p)}"></figure>' for p in plots
    ]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    out_dir: Path | str, summary: Mapping[str, Any], rows: Sequence[JobRow]
) -> list[Path]:
    """Write the plots, report.md and report.html into ``out_dir``; returns every file written."""
    out_dir = Path(out_dir)
    plots = write_plots(out_dir, summary, rows) + write_sweep_plots(out_dir, summary)
    plots += write_duration_plots(out_dir, summary)
    runs = list(summary.get("runs", []))
    replay = [prediction_table(runs), service_table(runs)]
    tables = task_tables(summary) + duration_tables(summary) + report_tables(summary, replay)
    tables += sweep_tables(summary)
    markdown = out_dir / "report.md"
    markdown.write_text(render_markdown(summary, tables, plots), encoding="utf-8")
    page = out_dir / "report.html"
    page.write_text(render_html(summary, tables, plots), encoding="utf-8")
    return [*plots, markdown, page]
