"""``burstlab worker`` and ``burstlab check-worker`` (``burstlab.__main__`` joins them)."""

from __future__ import annotations

import dataclasses
import socket

import click


@click.command()
@click.option("--concurrency", type=int, help="Worker processes (env WORKER_CONCURRENCY).")
def worker(concurrency: int | None) -> None:
    """Run a Celery worker consuming burstlab jobs (settings from the environment).

    With ``TARGET_APP`` and ``TARGET_TASK`` set it is a worker of the user's app instead, with
    burstlab's timing hooks (``burstlab run --app ... --task ...`` starts it so).
    """
    from burstlab.jobs.target import TargetError, TaskTarget
    from burstlab.telemetry.multiproc import disable_multiprocess_mode, prepare_multiprocess_dir
    from workers.config import WorkerConfig  # plain settings: imports no prometheus_client

    try:
        target = TaskTarget.from_env()
    except TargetError as exc:
        raise click.ClickException(str(exc)) from exc
    config = WorkerConfig.from_env()
    if concurrency is not None:
        config = dataclasses.replace(config, concurrency=concurrency)
    metrics_dir = None
    if config.metrics_enabled:
        # Before anything imports prometheus_client: the pool processes write to this folder.
        metrics_dir = prepare_multiprocess_dir("worker")
    else:
        disable_multiprocess_mode()
        config = dataclasses.replace(config, metrics_port=0)
    from workers.app import run_worker

    run_worker(config, metrics_dir, target)


@click.command("check-worker")
@click.option("--timeout", type=float, default=3.0, show_default=True)
def check_worker(timeout: float) -> None:
    """Exit 0 if the Celery worker on this host answers a control ping over the broker.

    A container health check: the image has no curl, this runs with the services' Python.
    """
    from workers.app import create_celery_app
    from workers.config import WorkerConfig

    app = create_celery_app(WorkerConfig.from_env())
    try:
        replies = app.control.ping(timeout=timeout) or []
    finally:
        app.close()
    suffix = f"@{socket.gethostname()}"
    names = [name for reply in replies for name in reply]
    if not any(name.endswith(suffix) for name in names):
        raise click.ClickException(f"no worker on {socket.gethostname()} answered (saw {names})")
