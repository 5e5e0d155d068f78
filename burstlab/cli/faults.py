"""``burstlab faults [NAME ...]``: run fault scenarios and print their figures."""

from __future__ import annotations

import inspect
import logging
from typing import Any

import click

from burstlab.cli.options import broker_option
from burstlab.jobs.delivery import FETCHES


@click.command()
@click.argument("names", nargs=-1)
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run each scenario this many times (a reliability claim needs many runs).",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=None,
    help="Kills or stops of a storm scenario (default: 100 kills, 50 stops), or broker kills "
    "of broker-bounce (default 10).",
)
@click.option(
    "--fetch",
    type=click.Choice(FETCHES),
    default=None,
    help="The workers' fetch for storm scenarios: reliable (default) or kombu's own, "
    "to see the loss it allows.",
)
@broker_option(
    "The broker of the async path for the worker, broker and async overload scenarios "
    "(rabbitmq: a private node of the installed rabbitmq-server).",
)
def faults(
    names: tuple[str, ...],
    list_only: bool,
    repeat: int,
    rounds: int | None,
    fetch: str | None,
    broker: str,
) -> None:
    """Kill workers, the broker or the baseline mid-run, overload and attack the producer;
    print jobs accepted, completed, lost and duplicated, time to recover and peak memory.

    Without NAMES every scenario runs (about 20 minutes). Exits 1 if any accepted job was lost.
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
    chosen = names or tuple(SCENARIOS)
    if broker != "redis":
        on_any = [n for n in SCENARIOS if "broker" in inspect.signature(SCENARIOS[n][0]).parameters]
        unsupported = [n for n in chosen if n not in on_any]
        if names and unsupported:
            raise click.BadParameter(
                f"{', '.join(unsupported)}: not on the async broker's path, so on Redis only; with "
                f"--broker {broker} run {', '.join(on_any)}"
            )
        chosen = tuple(n for n in chosen if n not in unsupported)
    for name in chosen:
        run, duration = SCENARIOS[name]
        accepts = inspect.signature(run).parameters
        options: dict[str, Any] = {
            key: value
            for key, value in (("rounds", rounds), ("fetch", fetch))
            if value is not None and key in accepts
        }
        if "broker" in accepts:
            options["broker"] = broker
        for attempt in range(1, repeat + 1):
            of = f" {attempt}/{repeat}" if repeat > 1 else ""
            # The durations are Redis': on RabbitMQ nothing waits for the visibility timeout.
            about = f"on {broker}" if "broker" in options and broker != "redis" else duration
            click.echo(f"running {name}{of} ({about}) ...", err=True)
            reports.append(run(**options))
    click.echo(format_table(reports))
    if any(not report.ok for report in reports):
        raise SystemExit(1)
