"""``burstlab faults [NAME ...]``: run fault scenarios and print their figures."""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

import click

from burstlab.cli.options import broker_option, task_target_options
from burstlab.jobs.delivery import FETCHES

if TYPE_CHECKING:
    from burstlab.experiments.targets.task import ResolvedTarget


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
@task_target_options
def faults(
    names: tuple[str, ...],
    list_only: bool,
    repeat: int,
    rounds: int | None,
    fetch: str | None,
    broker: str,
    task_app: str | None,
    task_name: str | None,
    payloads: str | None,
) -> None:
    """Kill workers, the broker or the baseline mid-run, overload and attack the producer;
    print jobs accepted, completed, lost and duplicated, time to recover and peak memory.

    Without NAMES every scenario runs (about 20 minutes). Exits 1 if any accepted job was lost.
    With --app, --task and --payloads the worker kills run on workers of your app, their jobs
    your task's.
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
        why = f"not on the async broker's path, so on Redis only; with --broker {broker} run"
        chosen = _taking("broker", chosen, names, why)
    task = _task(task_app, task_name, payloads)
    if task is not None:
        chosen = _taking("task", chosen, names, "runs burstlab's own job; on your task run")
        chosen = _on_task_broker(chosen, names, broker, task)
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
        if task is not None:
            options["task"] = task.target
            if "restore_period_s" in accepts:
                # The app's own: its workers keep kombu's fetch, with its settings
                options["visibility_timeout_s"] = task.visibility_timeout_s
                options["restore_period_s"] = task.restore_period_s
        for attempt in range(1, repeat + 1):
            of = f" {attempt}/{repeat}" if repeat > 1 else ""
            # The durations are Redis': on RabbitMQ nothing waits for the visibility timeout.
            about = f"on {broker}" if "broker" in options and broker != "redis" else duration
            click.echo(f"running {name}{of} ({about}) ...", err=True)
            reports.append(run(**options))
    click.echo(format_table(reports))
    if any(not report.ok for report in reports):
        raise SystemExit(1)


def _taking(
    parameter: str, chosen: tuple[str, ...], names: tuple[str, ...], why: str
) -> tuple[str, ...]:
    """The chosen scenarios whose function takes ``parameter``; one named that does not is
    refused with ``why`` and the scenarios that do."""
    from burstlab.faults.catalog import SCENARIOS

    taking = [n for n in SCENARIOS if parameter in inspect.signature(SCENARIOS[n][0]).parameters]
    other = [n for n in chosen if n not in taking]
    if names and other:
        raise click.BadParameter(f"{', '.join(other)}: {why} {', '.join(taking)}")
    return tuple(n for n in chosen if n in taking)


MAX_REDELIVERY_WAIT_S = 300.0
"""The longest a worker kill on a user's app waits for its jobs to come back on Redis."""


def _on_task_broker(
    chosen: tuple[str, ...], names: tuple[str, ...], broker: str, task: ResolvedTarget
) -> tuple[str, ...]:
    """Drop (or, if named, refuse) a whole-worker kill of a user's app on Redis when its jobs
    would come back later than burstlab waits: the app's workers keep kombu's own fetch, which
    restores a dead worker's jobs once they are ``visibility_timeout`` old, scanning every
    ``unacked_restore_interval`` x ``unacked_restore_throttle`` seconds."""
    from burstlab.faults.queue_faults import redelivery_bound_s

    bound = redelivery_bound_s(task.visibility_timeout_s, task.restore_period_s)
    if broker != "redis" or "worker-kill" not in chosen or bound <= MAX_REDELIVERY_WAIT_S:
        return chosen
    why = (
        f"worker-kill: on Redis a killed worker's jobs come back once your app's visibility "
        f"timeout ({task.visibility_timeout_s:g} s) has passed, found by kombu's sweep every "
        f"{task.restore_period_s:g} s (unacked_restore_interval x unacked_restore_throttle), "
        f"later than burstlab waits ({MAX_REDELIVERY_WAIT_S:g} s); shorten them "
        "(broker_transport_options) or use --broker rabbitmq, where they come back when the "
        "connection closes"
    )
    if "worker-kill" in names:
        raise click.BadParameter(why)
    click.echo(f"skipped {why}", err=True)
    return tuple(n for n in chosen if n != "worker-kill")


def _task(app: str | None, name: str | None, payloads: str | None) -> ResolvedTarget | None:
    """The user's task named by the flags, resolved as ``burstlab run`` does; None without."""
    from burstlab.experiments.targets.task import resolve_target
    from burstlab.scenario.spec import ScenarioError
    from burstlab.scenario.target import merge_target

    try:
        spec = merge_target(None, app, name, payloads, None)
        if spec is None:
            return None
        resolved = resolve_target(spec)
    except ScenarioError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(
        f"task {spec.task} of {spec.app} on queue {resolved.target.queue!r}, "
        f"{resolved.payloads} payload lines",
        err=True,
    )
    return resolved
