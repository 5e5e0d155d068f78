"""``burstlab plan`` and the autoscale run kind of ``burstlab run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def _cell(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


@click.command()
@click.argument("scenario", default="autoscale-burst")
@click.option("--service-ms", type=float, help="Service time S per job (default: mean job + 5 ms).")
@click.option(
    "--start-s",
    type=float,
    help="Seconds a new replica takes to serve, before replica_start_delay_s (default 3).",
)
@click.option(
    "--headroom",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.1,
    show_default=True,
    help="A setting qualifies when its predicted p99 is at most (1 - headroom) x the SLO.",
)
@click.option(
    "--measured",
    type=click.Path(exists=True, dir_okay=True),
    help="A run's results folder (or its summary.json): plan with the service time it probed "
    "(for your own task, each job's own) and its median worker start, unless --service-ms or "
    "--start-s say otherwise.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(
    scenario: str,
    service_ms: float | None,
    start_s: float | None,
    headroom: float,
    measured: str | None,
    as_json: bool,
) -> None:
    """Predict, without running anything, what meets SCENARIO's SLO at the least cost.

    The fluid model of the scenario's seeded burst gives the smallest fixed replica count whose
    p99 meets ``thresholds.completion_p99_ms`` and the cheapest target backlog per replica and
    polling interval (the rest of ``[autoscale]`` kept) in worker-seconds; the queue replay
    checks each setting shown and the plan says where the two disagree.
    """
    from burstlab.autoscale.plan import PROCESS_START_S, fluid_input, measured_inputs
    from burstlab.autoscale.plan import plan as make_plan
    from burstlab.scenario.spec import ScenarioError, load_scenario

    try:
        loaded = load_scenario(scenario)
        policy = loaded.autoscale
        service_s = None if service_ms is None else service_ms / 1000
        samples: tuple[float, ...] = ()
        if measured is not None:
            found = measured_inputs(_summary(Path(measured)), measured)
            if service_s is None:
                service_s, samples = found.service_s, found.samples_s
            if start_s is None:
                start_s = found.process_start_s
        delay = None
        if start_s is not None and policy is not None:
            delay = start_s + policy.replica_start_delay_s
        data = fluid_input(
            loaded, service_s=service_s, start_delay_s=delay, service_samples_s=samples
        )
        result = make_plan(loaded, data, headroom=headroom)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    process_start = PROCESS_START_S if start_s is None else start_s
    limit = result.slo_ms * (1 - result.headroom)
    click.echo(
        f"{loaded.name}: SLO p99 <= {result.slo_ms:g} ms, planned for <= {limit:g} ms "
        f"(headroom {result.headroom:.0%}); S = {result.service_s * 1000:.1f} ms; "
        f"a new replica serves {result.start_delay_s:g} s after it is asked for "
        f"({process_start:g} s process start + replica_start_delay_s)"
    )
    click.echo(
        f"{'setting':<34}{'p99 ms':>10}{'replayed':>10}{'worker-s':>10}{'peak':>6}{'drain s':>9}"
    )
    shown = [*result.fixed_tried, result.scenario_policy]
    if result.cheapest is not None:
        shown.append(result.cheapest)
    for candidate in shown:
        figures = candidate.prediction
        mark = " meets" if candidate.meets(limit) else ""
        click.echo(
            f"{candidate.label:<34}{_cell(figures.p99_ms, 0):>10}"
            f"{_cell(candidate.replayed_p99_ms, 0):>10}"
            f"{_cell(figures.worker_seconds, 0):>10}{figures.peak_replicas:>6}"
            f"{_cell(figures.drain_s):>9}{mark}"
        )
    click.echo(
        "(p99 ms: the fluid model, which searches; replayed: the queue replay of the same jobs "
        "through the same replicas, which predicts every run)"
    )
    for line in result.disagreements:
        click.echo(f"the two models disagree: {line}")
    if result.fixed is None:
        click.echo("no fixed count up to max_replicas meets the SLO with the headroom")
    else:
        click.echo(f"smallest fixed count meeting the SLO: {result.fixed.policy.min_replicas}")
    if result.cheapest is None:
        click.echo(f"no setting of {result.policies_tried} tried meets the SLO with the headroom")
    else:
        p = result.cheapest.policy
        click.echo(
            f"cheapest policy meeting the SLO ({result.policies_tried} tried): "
            f"target_backlog_per_replica = {p.target_backlog_per_replica}, "
            f"polling_interval_s = {p.polling_interval_s:g}"
        )


def _summary(path: Path) -> dict[str, Any]:
    """The summary.json at ``path`` (a results folder or the file itself)."""
    from burstlab.scenario.spec import ScenarioError

    file = path / "summary.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"--measured {path}: cannot read a run's summary.json: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"--measured {path}: not a run's summary.json")
    return data


def print_autoscale_summary(summary: dict[str, Any]) -> None:
    """The policies table and the prediction table on the console."""
    from rich.console import Console
    from rich.table import Table

    from burstlab.experiments.autoscale.report import policy_table, prediction_table

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    for data in (policy_table(summary), prediction_table(summary)):
        table = Table(title=data.title, title_justify="left")
        for header in data.headers:
            table.add_column(header, justify="right")
        for row in data.rows:
            table.add_row(*row)
        console.print(table)
