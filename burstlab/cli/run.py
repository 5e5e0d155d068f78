"""``burstlab run`` and ``burstlab compare``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from burstlab.cli.options import (
    broker_list,
    broker_option,
    failed_threshold_lines,
    int_list,
    live_option,
    mode_list,
    out_dir_option,
    task_target_options,
)

if TYPE_CHECKING:
    from rich.console import Console

    from burstlab.experiments.model.run import ExperimentResult
    from burstlab.experiments.targets.task import ResolvedTarget
    from burstlab.scenario.shard import Shard
    from burstlab.scenario.spec import Scenario
    from burstlab.scenario.target import TargetSpec


@click.command()
@click.argument("scenario", default="burst")
@click.option(
    "--target",
    help="Drive this running producer (e.g. http://127.0.0.1:8080) "
    "instead of starting a local stack per worker count.",
)
@click.option("--modes", help="Comma-separated: sync,async (default: the scenario's).")
@click.option(
    "--workers",
    help="Comma-separated worker counts, e.g. 1,2,4 (default: the "
    "scenario's). With --target, one count describing the running stack.",
)
@out_dir_option("Results folder (default results/<timestamp>-<scenario>/).")
@click.option("--seed", type=int, help="Seed for the schedule (default: the scenario's).")
@click.option(
    "--compose",
    is_flag=True,
    help="Drive the compose stack, scaling its worker "
    "service (and the baseline's workers) to each --workers value between runs.",
)
@click.option(
    "--compose-file",
    type=click.Path(path_type=Path),
    default=Path("docker-compose.yml"),
    show_default=True,
    help="The compose file --compose scales.",
)
@click.option(
    "--rho",
    help="Sweeps: comma-separated utilisations of the measured capacity N/S, "
    "increasing, e.g. 0.3,0.6,0.9,1.1 (default: the scenario's).",
)
@click.option(
    "--step-s",
    type=float,
    help="Sweeps: seconds per step (default: chosen per step from S and the rate).",
)
@broker_option("The broker of the local stacks (rabbitmq: a private node of rabbitmq-server).")
@click.option(
    "--brokers",
    help="Comma-separated, e.g. redis,rabbitmq: run the plan on each broker's local stacks, "
    "each into OUT/<broker>/, and print how the second differs from the first.",
)
@click.option(
    "--shard",
    help="With --target: send only shard I of P of the schedule (I/P, e.g. 0/4; items "
    "whose index mod P is I) and write the histograms `burstlab merge` needs.",
)
@click.option(
    "--start-at",
    help="With --shard: the shared start of the schedule, epoch seconds or next:N (the next "
    "wall-clock multiple of N s at least N/2 s away). Default: as soon as ready.",
)
@task_target_options
@click.option(
    "--sync-url",
    help="With --app: post each payload to this blocking endpoint of yours for the sync side, "
    "instead of the baseline calling the task's function.",
)
@click.option(
    "--external",
    is_flag=True,
    help="With --app: measure your running deployment instead: send to the app's own broker "
    "and queue, let your workers (started with -E) run the jobs, time them from their events.",
)
@live_option
def run(
    scenario: str,
    target: str | None,
    modes: str | None,
    workers: str | None,
    out_dir: Path | None,
    seed: int | None,
    compose: bool,
    compose_file: Path,
    rho: str | None,
    step_s: float | None,
    broker: str,
    brokers: str | None,
    shard: str | None,
    start_at: str | None,
    task_app: str | None,
    task_name: str | None,
    payloads: str | None,
    sync_url: str | None,
    external: bool,
    no_live: bool,
) -> None:
    """Run a burst experiment SCENARIO (a shipped name or a TOML file) and write a report."""
    from rich.console import Console

    from burstlab.experiments.model.run import RunPlan, default_out_dir
    from burstlab.experiments.render.console import summary_table
    from burstlab.experiments.runner import run_experiment
    from burstlab.experiments.sweep.run import override_sweep
    from burstlab.scenario.spec import ScenarioError, load_scenario, run_task

    try:
        loaded = override_sweep(load_scenario(scenario), rho, step_s)
        task = _task_target(
            loaded, task_app, task_name, payloads, sync_url, target or compose, external
        )
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from exc
    if task is not None:
        loaded = run_task(loaded, task[0])
    if loaded.kind == "worker-settings":
        _run_worker_settings(loaded, workers, out_dir)
        return
    worker_counts = int_list(workers) if workers else loaded.workers
    if task is not None and task[1].external is not None:
        if workers or brokers or loaded.autoscale is not None:
            raise click.BadParameter(
                "a running deployment keeps its own workers and broker: no --workers, "
                "--brokers or autoscale scenario with --external",
                param_hint="--external",
            )
        worker_counts = (task[1].external.processes,)
    factory = None
    if compose:
        from burstlab.experiments.targets.compose import ComposeScaler

        target = target or "http://127.0.0.1:8080"
        factory = ComposeScaler(target_url=target, compose_file=compose_file).stack
    elif target and len(worker_counts) != 1:
        raise click.BadParameter(
            "with --target the worker count cannot be changed; give one --workers value "
            "describing the running stack",
            param_hint="--workers",
        )
    chosen = broker_list(brokers) if brokers else (broker,)
    if (target or compose) and chosen != ("redis",):
        raise click.BadParameter(
            "--broker/--brokers choose the broker of local stacks; a running stack "
            "(--target, --compose) keeps the one it has",
            param_hint="--broker",
        )
    shard_of, start = _shard_options(loaded, target, shard, start_at)
    if loaded.autoscale is not None and not compose and not target:
        if chosen != ("redis",):
            raise click.BadParameter("autoscale scenarios run on Redis", param_hint="--broker")
        _run_autoscale(loaded, modes, out_dir, seed, no_live, task[1] if task else None)
        return
    plan = RunPlan(
        scenario=loaded,
        modes=mode_list(modes) if modes else loaded.modes,
        workers=worker_counts,
        out_dir=out_dir or default_out_dir(loaded),
        seed=loaded.seed if seed is None else seed,
        target=target,
        broker=chosen[0],
        shard=shard_of,
        start_at=start,
        task=task[1] if task else None,
    )
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    passed = True
    results = []
    for name in chosen:
        each = replace(plan, broker=name, out_dir=plan.out_dir / name) if brokers else plan
        result = run_experiment(each, stack_factory=factory, live=not no_live)
        results.append(result)
        if brokers:
            console.print(f"[bold]broker {name}[/bold]")
        console.print(summary_table(result.summary))
        for sentence in result.summary.get("capacity_sentences", []):
            console.print(sentence)
        for sentence in result.summary.get("crossover_sentences", []):
            console.print(sentence)
        for mode, scaling in result.summary.get("scaling", {}).items():
            console.print(f"{mode}: {scaling['verdict']}")
        for line in failed_threshold_lines(result.checks):
            console.print(f"[red]threshold failed[/red]: {line}")
        console.print(f"report: {result.out_dir / 'report.html'}")
        passed = passed and result.passed
    if brokers:
        _reportbroker_list(console, chosen, results, plan.out_dir)
    if not passed:
        raise SystemExit(1)


def _reportbroker_list(
    console: Console, chosen: tuple[str, ...], results: list[ExperimentResult], out_dir: Path
) -> None:
    """Each broker's runs side by side (``OUT/report.md``, ``OUT/summary.json``), and with two
    brokers the second against the first as ``burstlab compare`` shows it, with a plot."""
    from burstlab.experiments.brokers.report import rich_table, write_brokers_report
    from burstlab.experiments.compare import compare as compare_dirs
    from burstlab.experiments.compare import plot_comparison, render_table

    plot = None
    if len(results) == 2:
        comparison = compare_dirs(results[0].out_dir, results[1].out_dir)
        console.print(f"[bold]{chosen[1]} against {chosen[0]}[/bold]")
        console.print(render_table(comparison))
        plot = plot_comparison(comparison, out_dir / "brokers.png")
        console.print(f"comparison plot: {plot}")
    folders = {name: result.out_dir for name, result in zip(chosen, results, strict=True)}
    table, files = write_brokers_report(out_dir, folders, plot)
    console.print(rich_table(table))
    console.print(f"brokers report: {files[0]}")


def _shard_options(
    loaded: Scenario, target: str | None, shard: str | None, start_at: str | None
) -> tuple[Shard | None, float | None]:
    """``--shard`` and ``--start-at``, checked: shards drive a --target, not a sweep."""
    from burstlab.experiments.durations.run import is_duration_sweep
    from burstlab.experiments.sweep.run import is_sweep
    from burstlab.scenario.shard import Shard, ShardError, parse_start_at

    if shard is None:
        if start_at is not None:
            raise click.BadParameter("--start-at goes with --shard", param_hint="--start-at")
        return None, None
    if not target:
        raise click.BadParameter(
            "shards drive a running stack: give --target", param_hint="--shard"
        )
    if is_sweep(loaded) or is_duration_sweep(loaded) or loaded.autoscale is not None:
        raise click.BadParameter(
            "sweeps and autoscale runs cannot be sharded", param_hint="--shard"
        )
    try:
        return Shard.parse(shard), None if start_at is None else parse_start_at(start_at)
    except ShardError as exc:
        raise click.BadParameter(str(exc)) from exc


def _task_target(
    loaded: Scenario,
    app: str | None,
    task: str | None,
    payloads: str | None,
    sync_url: str | None,
    running: object,
    external: bool = False,
) -> tuple[TargetSpec, ResolvedTarget] | None:
    """The user's task named by the flags or the scenario's [target], checked and resolved;
    what burstlab overrides in its workers of the app is printed before anything starts."""
    from burstlab.experiments.targets.task import resolve_target
    from burstlab.scenario.spec import ScenarioError
    from burstlab.scenario.target import merge_target

    spec = merge_target(loaded.target, app, task, payloads, sync_url)
    if spec is None:
        if external:
            raise ScenarioError("--external measures your task: give --app, --task, --payloads")
        return None
    if loaded.kind == "worker-settings":
        raise ScenarioError("a worker-settings scenario measures burstlab's own job: no --app")
    if running:
        raise ScenarioError(
            "--app runs your task on the local stacks burstlab starts; for a deployment that "
            "is already running, use --external"
        )
    resolved = resolve_target(spec, external=external)
    click.echo(
        f"task {spec.task} of {spec.app} on queue {resolved.target.queue!r}, "
        f"{resolved.payloads} payload lines",
        err=True,
    )
    if resolved.external is not None:
        seen = resolved.external
        click.echo(
            f"  your running workers: {', '.join(seen.workers)} ({seen.processes} processes); "
            "burstlab starts none and changes none of their settings",
            err=True,
        )
    for item in resolved.overrides:
        line = f"  burstlab sets {item['setting']} = {item['value']}: {item['reason']}"
        click.echo(line, err=True)
    return spec, resolved


def _run_autoscale(
    loaded: Scenario,
    modes: str | None,
    out_dir: Path | None,
    seed: int | None,
    no_live: bool,
    task: ResolvedTarget | None = None,
) -> None:
    """A scenario with [autoscale]: each mode under fixed-at-min, fixed-at-max and the policy."""
    from burstlab.cli.plan import print_autoscale_summary
    from burstlab.experiments.autoscale.run import run_autoscale
    from burstlab.experiments.model.run import RunPlan, default_out_dir
    from burstlab.scenario.spec import ScenarioError

    plan = RunPlan(
        scenario=loaded,
        modes=mode_list(modes) if modes else loaded.modes,
        workers=(loaded.autoscale.replica_concurrency,) if loaded.autoscale else (1,),
        out_dir=out_dir or default_out_dir(loaded),
        seed=loaded.seed if seed is None else seed,
        task=task,
    )
    try:
        result = run_autoscale(plan, live=not no_live)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from exc
    print_autoscale_summary(result.summary)
    for line in failed_threshold_lines(result.checks):
        click.echo(f"threshold failed: {line}")
    click.echo(f"report: {result.out_dir / 'report.html'}")
    if not result.passed:
        raise SystemExit(1)


def _run_worker_settings(scenario: Scenario, workers: str | None, out_dir: Path | None) -> None:
    """A ``worker-settings`` scenario: its matrix, each cell on a fresh local stack."""
    import dataclasses

    from burstlab.experiments.model.run import default_out_dir
    from burstlab.experiments.settings.run import run_matrix

    assert scenario.matrix is not None
    matrix = scenario.matrix
    if workers:
        counts = int_list(workers)
        if len(counts) != 1 or counts[0] < 2:
            raise click.BadParameter("one process count >= 2", param_hint="--workers")
        matrix = dataclasses.replace(matrix, concurrency=counts[0])
    folder = out_dir or default_out_dir(scenario)
    _, files = run_matrix(
        matrix,
        folder,
        name=scenario.name,
        note=lambda line: click.echo(line, err=True),
    )
    click.echo(files[-1].read_text())
    click.echo(f"report: {files[-1]}")


@click.command()
@click.argument("dir_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dir_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--plot", type=click.Path(path_type=Path), help="Also write a comparison plot.")
def compare(dir_a: Path, dir_b: Path, plot: Path | None) -> None:
    """Show what changed between two result folders (A before, B after)."""
    from rich.console import Console

    from burstlab.experiments.compare import compare as compare_dirs
    from burstlab.experiments.compare import plot_comparison, render_table

    table = compare_dirs(dir_a, dir_b)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(render_table(table))
    if plot:
        plot_comparison(table, plot)
        click.echo(f"plot: {plot}")


@click.command()
@click.argument(
    "dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Merged folder."
)
def merge(dirs: tuple[Path, ...], out_dir: Path) -> None:
    """Merge the result folders of `burstlab run --shard` into one result with its report."""
    from burstlab.experiments.merge import MergeError, merge_shards

    try:
        summary, _ = merge_shards(list(dirs), out_dir)
    except MergeError as exc:
        raise click.ClickException(str(exc)) from exc
    missing = summary["merged"]["missing_shards"]
    if missing:
        click.echo(f"warning: shards {missing} are missing", err=True)
    for run in summary["runs"]:
        latency = run["latency_ms"]
        click.echo(
            f"{run['mode']} x{run['workers']}: offered {run['offered']}, "
            f"completed {run['completed']}, p50 {latency['p50']} ms, p99 {latency['p99']} ms"
        )
    click.echo(f"report: {out_dir / 'report.html'}")
