"""One report for a plan run on several brokers (``burstlab run --brokers redis,rabbitmq``).

Each broker's runs have a results folder of their own (``OUT/<broker>/``, with the usual
report); this module writes ``OUT/report.md`` and ``OUT/summary.json`` beside them: for each
broker and run, the drain time, the ideal drain, the per-task overhead, the jobs lost and the
duplicate deliveries (see :func:`burstlab.experiments.model.stats.drain_overhead`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from burstlab.experiments.compare import load_summary
from burstlab.experiments.render.tables import TableData, fmt

DEFINITIONS = (
    "**drain s**: from the burst's first send to the last job's end. **ideal s**: "
    "ceil(jobs / N) x job time, N workers with no cost per job. **overhead ms**: the per-task "
    "overhead, drain x N / jobs - job time, in ms per job and worker process (as "
    "`benchmarks.worker_overhead` defines it). **jobs**: those sent from the burst on. "
    "**lost**: accepted and never finished, plus requests that got no answer. "
    "**duplicated**: deliveries beyond a job's first (async only: runs after the first, plus "
    "deliveries of finished jobs acknowledged without running). Sync jobs do not go through "
    "the broker: their rows show how much runs on the same stack differ."
)


@dataclass(frozen=True)
class BrokerRun:
    """The figures of one (mode, workers) run on one broker."""

    broker: str
    mode: str
    workers: int
    jobs: int | None
    drain_s: float | None
    ideal_drain_s: float | None
    per_task_ms: float | None
    throughput_per_s: float | None
    accept_p99_ms: float | None
    lost: int
    duplicated: int | None

    @classmethod
    def from_run(cls, broker: str, run: Mapping[str, Any]) -> BrokerRun:
        """Pick the figures out of a ``summarize_run`` dict (plus the runner's ``duplicated``)."""
        overhead = run.get("drain_overhead") or {}
        return cls(
            broker=broker,
            mode=run["mode"],
            workers=run["workers"],
            jobs=overhead.get("jobs"),
            drain_s=run.get("drain_s"),
            ideal_drain_s=overhead.get("ideal_drain_s"),
            per_task_ms=overhead.get("per_task_ms"),
            throughput_per_s=run.get("throughput_per_s"),
            accept_p99_ms=(run.get("accept_latency_ms") or {}).get("p99"),
            lost=int(run.get("lost") or 0) + int(run.get("errors") or 0),
            duplicated=run.get("duplicated"),
        )


def broker_runs(summaries: Mapping[str, Mapping[str, Any]]) -> list[BrokerRun]:
    """Every run of every broker's summary, grouped by run (sync first, then by workers)."""
    runs = [BrokerRun.from_run(b, run) for b, s in summaries.items() for run in s["runs"]]
    order = list(summaries)
    return sorted(runs, key=lambda r: (r.mode != "sync", r.workers, order.index(r.broker)))


def brokers_summary(summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The combined ``summary.json``: each broker's folder, verdict and run figures."""
    first = next(iter(summaries.values()))
    runs = broker_runs(summaries)
    return {
        "scenario": first.get("scenario"),
        "description": first.get("description"),
        "seed": first.get("seed"),
        "brokers": {
            name: {
                "results": f"{name}/",
                "passed": summary.get("passed"),
                "runs": [asdict(r) for r in runs if r.broker == name],
            }
            for name, summary in summaries.items()
        },
        "lost": sum(r.lost for r in runs),
        "passed": all(s.get("passed") for s in summaries.values()),
    }


def brokers_table(runs: list[BrokerRun]) -> TableData:
    """One row per broker and run."""
    headers = ("run", "broker", "jobs", "drain s", "ideal s", "overhead ms", "jobs/s",
               "accept p99 ms", "lost", "duplicated")  # fmt: skip
    rows = tuple(
        (
            f"{r.mode} x{r.workers}",
            r.broker,
            fmt(r.jobs),
            fmt(r.drain_s, 2),
            fmt(r.ideal_drain_s, 2),
            fmt(r.per_task_ms, 1),
            fmt(r.throughput_per_s),
            fmt(r.accept_p99_ms),
            fmt(r.lost),
            fmt(r.duplicated),
        )
        for r in runs
    )
    return TableData("Per broker", headers, rows)


def render_markdown(summary: Mapping[str, Any], table: TableData, plot: str | None) -> str:
    """``OUT/report.md``: the table, the definitions, links to each broker's report."""
    names = list(summary["brokers"])
    lines = [f"# {summary['scenario']} on {' and '.join(names)}", ""]
    if summary.get("description"):
        lines += [str(summary["description"]), ""]
    lost = summary["lost"]
    lines += [f"Jobs lost: {lost}." if lost else "No job lost on any broker.", ""]
    lines += ["| " + " | ".join(table.headers) + " |"]
    lines += ["|" + "|".join("---" for _ in table.headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    lines += ["", DEFINITIONS, ""]
    lines += ["Each broker's own report: " + ", ".join(f"[{n}]({n}/report.md)" for n in names)]
    if plot:
        lines += ["", f"![{names[-1]} against {names[0]}]({plot})"]
    return "\n".join(lines) + "\n"


def write_brokers_report(
    out_dir: Path, folders: Mapping[str, Path], plot: Path | None = None
) -> tuple[TableData, list[Path]]:
    """Write ``report.md`` and ``summary.json`` into ``out_dir`` from each broker's results
    folder (by broker name, in the order of the comparison); return the table and the files."""
    summaries = {name: load_summary(folder) for name, folder in folders.items()}
    summary = brokers_summary(summaries)
    table = brokers_table(broker_runs(summaries))
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = out_dir / "report.md"
    markdown.write_text(render_markdown(summary, table, plot.name if plot else None))
    data = out_dir / "summary.json"
    data.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return table, [markdown, data]


def rich_table(table: TableData) -> Table:
    """``table`` for the console."""
    shown = Table(title=table.title, title_justify="left")
    for header in table.headers:
        shown.add_column(header, justify="left" if header in ("run", "broker") else "right")
    for row in table.rows:
        shown.add_row(*row)
    return shown
