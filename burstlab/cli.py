"""The ``burstlab`` command: thin wrappers around library functions that tests call too."""

from __future__ import annotations

import dataclasses
import logging
import os

import click

from burstlab.autoscale_cli import plan
from burstlab.experiment_cli import compare, merge, run
from burstlab.faults_cli import faults
from burstlab.health_cli import check, check_worker
from burstlab.k8s_cli import k8s
from burstlab.monitor_cli import monitor
from burstlab.stack_cli import demo, stack


def _log_setup() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@click.group()
@click.version_option(package_name="burstlab")
def main() -> None:
    """burstlab: sync vs async under burst load, measured."""


@main.command()
def versions() -> None:
    """Print the versions of the libraries burstlab measures (what reports record)."""
    from burstlab.telemetry.environment import versions as installed

    for name, version in installed().items():
        click.echo(f"{name}=={version}")


@main.command()
@click.option("--host", help="Listen address (env PRODUCER_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (env PRODUCER_PORT, default 8080).")
def producer(host: str | None, port: int | None) -> None:
    """Run the aiohttp producer (settings from the environment)."""
    from burstlab.telemetry.multiproc import disable_multiprocess_mode

    disable_multiprocess_mode()  # one asyncio process: metrics stay in memory
    from producer.app import run_producer
    from producer.config import ProducerConfig

    _log_setup()
    config = ProducerConfig.from_env()
    if host is not None:
        config = dataclasses.replace(config, host=host)
    if port is not None:
        config = dataclasses.replace(config, port=port)
    run_producer(config)


@main.command()
@click.option("--host", help="Listen address (env BASELINE_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (env BASELINE_PORT, default 8081).")
@click.option("--workers", type=int, help="gunicorn sync worker processes (env BASELINE_WORKERS).")
def baseline(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the blocking sync baseline under gunicorn sync workers."""
    from burstlab.telemetry.multiproc import prepare_multiprocess_dir

    # Before anything imports prometheus_client: gunicorn's workers write to this folder.
    metrics_dir = prepare_multiprocess_dir("baseline")
    from sync_baseline.config import BaselineConfig
    from sync_baseline.server import run_baseline

    config = BaselineConfig.from_env()
    if host is not None:
        config = dataclasses.replace(config, host=host)
    if port is not None:
        config = dataclasses.replace(config, port=port)
    if workers is not None:
        config = dataclasses.replace(config, workers=workers)
    run_baseline(config, metrics_dir)


@main.command()
@click.option("--concurrency", type=int, help="Worker processes (env WORKER_CONCURRENCY).")
def worker(concurrency: int | None) -> None:
    """Run a Celery worker consuming burstlab jobs (settings from the environment)."""
    from burstlab.telemetry.multiproc import disable_multiprocess_mode, prepare_multiprocess_dir
    from workers.config import WorkerConfig  # plain settings: imports no prometheus_client

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

    run_worker(config, metrics_dir)


main.add_command(stack)
main.add_command(demo)
main.add_command(run)
main.add_command(compare)
main.add_command(merge)
main.add_command(plan)
main.add_command(check)
main.add_command(check_worker)
main.add_command(monitor)
main.add_command(faults)
main.add_command(k8s)
