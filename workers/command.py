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


@click.command("task-events")
def task_events() -> None:
    """Record a running deployment's runs of the target task from its Celery events.

    Starts no worker and changes nothing on the deployment's side (``burstlab run --external``
    starts it). Exits 1, saying how to turn events on, when the workers send none.
    """
    import json
    import os

    import redis

    from burstlab.jobs.names import EXTERNAL_KEY
    from burstlab.jobs.target import (
        EventsOff,
        TargetError,
        TaskTarget,
        check_deployment,
        find_task,
        load_app,
    )
    from workers.config import WorkerConfig
    from workers.store import JobStore
    from workers.task_events import EventRecorder, record_events

    config = WorkerConfig.from_env()
    try:
        target = TaskTarget.from_env()
        if target is None:
            raise TargetError("TARGET_TASK is not set: task-events records a target's runs")
        app = load_app(target.app, target.path)
        find_task(app, target.task)
        # The broker the run resolved (which CELERY_BROKER_URL may have named): the stack does
        # not pass CELERY_* variables on, so the app's own configuration alone could differ.
        app.conf.broker_url = config.broker
        deployment = check_deployment(app, target.app)
    except (TargetError, EventsOff) as exc:
        raise click.ClickException(str(exc)) from exc
    store = redis.Redis.from_url(config.redis_url)
    seen = {"workers": deployment.workers, "processes": deployment.processes}
    click.echo(f"listening to the events of {seen}", err=True)
    record_events(
        app,
        EventRecorder(target.task, JobStore(config.redis_url)),
        # Under the key the stack waits for (its own token: a key left by an earlier run of
        # another stack on the same Redis does not count).
        ready=lambda: store.set(
            f"{EXTERNAL_KEY}:{os.environ.get('EVENTS_TOKEN', '')}", json.dumps(seen), ex=3600
        ),
    )
