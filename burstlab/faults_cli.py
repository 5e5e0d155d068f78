"""``burstlab faults [NAME ...]``: run fault scenarios and print their figures."""

from __future__ import annotations

import logging

import click


@click.command()
@click.argument("names", nargs=-1)
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
def faults(names: tuple[str, ...], list_only: bool) -> None:
    """Kill workers, the broker or the baseline mid-run, overload and attack the producer;
    print jobs accepted, completed, lost and duplicated, time to recover and peak memory.

    Without NAMES every scenario runs (about 10 minutes). Exits 1 if any accepted job was lost.
    """
    from burstlab.faults.catalog import SCENARIOS
    from burstlab.faults.report import format_table

    if list_only:
        for name, (_, duration) in SCENARIOS.items():
            click.echo(f"{name:22} {duration}")
        return
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise click.BadParameter(f"unknown scenario(s) {', '.join(unknown)}; see --list")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    reports = []
    for name in names or tuple(SCENARIOS):
        run, duration = SCENARIOS[name]
        click.echo(f"running {name} ({duration}) ...", err=True)
        reports.append(run())
    click.echo(format_table(reports))
    if any(not report.ok for report in reports):
        raise SystemExit(1)
