"""``burstlab monitor``: draw the dashboard's key panels from a Prometheus, or from a demo burst."""

from __future__ import annotations

import time
from pathlib import Path

import click

from burstlab.cli.options import burst_options


@click.group()
def monitor() -> None:
    """Dashboard panels rendered from Prometheus query results."""


@monitor.command("render")
@click.option("--prometheus", "prometheus_url", required=True, help="Prometheus base URL.")
@click.option("--last", "last_s", type=float, default=600, show_default=True, help="Seconds back.")
@click.option("--start", type=float, help="Range start (epoch seconds); default now - --last.")
@click.option("--end", type=float, help="Range end (epoch seconds); default now.")
@click.option("--step", "step_s", type=float, default=1, show_default=True, help="Seconds.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("monitoring-panels.png"),
    show_default=True,
)
def render(
    prometheus_url: str,
    last_s: float,
    start: float | None,
    end: float | None,
    step_s: float,
    out: Path,
) -> None:
    """Render the Sync vs Async key panels and the sweep panels over a time range to a PNG."""
    from burstlab.dashboards.render import KEY_PANELS, SWEEP_PANELS, render_panels

    end = end or time.time()
    start = start or end - last_s
    titles = KEY_PANELS + SWEEP_PANELS
    click.echo(render_panels(prometheus_url, start, end, out, titles=titles, step_s=step_s))


@monitor.command("dashboards")
@click.option(
    "--check", is_flag=True, help="Only compare: exit 1 if a committed file differs from the code."
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="Dashboards folder; default the package's monitoring/grafana/dashboards.",
)
def dashboards(check: bool, folder: Path | None) -> None:
    """Generate the Grafana dashboard JSON files from their code (Grafana's SDK)."""
    from burstlab.dashboards.build import stale_dashboards, write_dashboards
    from burstlab.dashboards.files import DASHBOARDS_DIR

    folder = folder or DASHBOARDS_DIR
    if check:
        stale = stale_dashboards(folder)
        if stale:
            click.echo(
                f"differ from the code: {', '.join(stale)} (run `burstlab monitor dashboards`)"
            )
            raise SystemExit(1)
        click.echo(f"{folder}: every dashboard matches its code")
        return
    changed = write_dashboards(folder)
    click.echo("\n".join(str(p) for p in changed) or f"{folder}: already up to date")


@monitor.command("demo")
@burst_options(burst_s=30)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("docs/monitoring-panels.png"),
    show_default=True,
)
def demo(workers: int, rate: float, burst_s: float, duration_ms: float, out: Path) -> None:
    """Start a stack with Prometheus, burst sync then async, render the panels, stop."""
    from burstlab.experiments.monitor.demo import MonitorDemo, run_monitor_demo

    settings = MonitorDemo(workers=workers, rate=rate, burst_s=burst_s, duration_ms=duration_ms)
    click.echo("starting a monitored stack; one burst per mode (about 3 minutes) ...")
    path, failed = run_monitor_demo(out, settings)
    click.echo(f"{path}  ({failed} jobs not accepted)")


@monitor.command("verify")
@burst_options(burst_s=15)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path),
    help="Where jobs.csv goes; default results/<UTC timestamp>-monitor-verify.",
)
@click.option(
    "--png", type=click.Path(path_type=Path), help="Also render the panels of the run here."
)
def verify(
    workers: int,
    rate: float,
    burst_s: float,
    duration_ms: float,
    out_dir: Path | None,
    png: Path | None,
) -> None:
    """Burst each mode on a monitored stack; check Prometheus against the run's jobs.csv.

    Exits 1 if a total differs, a peak (offered rate, backlog) is more than 15 % off, or a
    burst's start or end is more than 2 s off.
    """
    from burstlab.experiments.monitor.checks_table import print_checks
    from burstlab.experiments.monitor.verify import VerifySettings, run_verify

    settings = VerifySettings(workers=workers, rate=rate, burst_s=burst_s, duration_ms=duration_ms)
    if out_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        out_dir = Path("results") / f"{stamp}-monitor-verify"
    click.echo(
        f"starting a monitored stack; {rate:g} jobs/s for {burst_s:g} s per mode, "
        f"{workers} workers ..."
    )
    result = run_verify(out_dir, settings, png=png)
    print_checks(result.checks, result.start)
    click.echo(
        f"ground truth: {result.jobs_csv} ({result.rows} jobs)"
        + (f"; panels: {png}" if png else "")
    )
    if not result.passed:
        raise SystemExit(1)
