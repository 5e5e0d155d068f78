"""``burstlab stack up``: the whole stack as plain processes."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from burstlab.cli.options import broker_option, queue_type_option


def _stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT (Ctrl-C) set ``stop``: no exception lands in the middle of a start
    or a stop, which watch the event instead."""

    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@click.group()
def stack() -> None:
    """Run the whole stack on this machine as plain processes (no Docker)."""


@stack.command("up")
@click.option("--workers", type=int, default=2, show_default=True, help="Celery worker processes.")
@click.option(
    "--baseline-workers", type=int, default=2, show_default=True, help="gunicorn sync workers."
)
@click.option("--port", type=int, default=8080, show_default=True, help="Producer port (0: free).")
@click.option("--redis-url", envvar="REDIS_URL", help="Use this Redis instead of a private one.")
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path),
    help="Keep logs and Redis data here (default: a temporary folder, removed on stop).",
)
@click.option(
    "--prometheus",
    is_flag=True,
    help="Also start Prometheus (monitoring/prometheus config and rules) scraping the stack.",
)
@click.option(
    "--prometheus-port", type=int, default=9090, show_default=True, help="Its port (0: free)."
)
@broker_option(
    "Where async jobs are queued; rabbitmq starts a private node of the installed "
    "rabbitmq-server (records and events stay in Redis).",
)
@click.option(
    "--broker-url",
    help="With --broker rabbitmq: use this RabbitMQ (amqp://USER:PASSWORD@HOST:5672/) "
    "instead of a private node.",
)
@click.option(
    "--rabbitmq-management-url",
    help="With --broker-url: its management API (http://USER:PASSWORD@HOST:15672), for the "
    "queue's unacknowledged count.",
)
@queue_type_option
def stack_up(
    workers: int,
    baseline_workers: int,
    port: int,
    redis_url: str | None,
    run_dir: Path | None,
    prometheus: bool,
    prometheus_port: int,
    broker: str,
    broker_url: str | None,
    rabbitmq_management_url: str | None,
    queue_type: str,
) -> None:
    """Start Redis, the baseline, a Celery worker and the producer (and a RabbitMQ node with
    --broker rabbitmq); stop all on Ctrl-C.

    A service process that dies is restarted, with a line on stderr saying which and why.
    SIGTERM or Ctrl-C, even while starting, stops every service within a few seconds and
    removes the temporary run folder; if this command is killed, its services die with it.
    """
    from burstlab.stack.local import LocalStack, StackConfig, StackError, StackInterrupted

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    if broker_url and broker != "rabbitmq":
        raise click.BadParameter("--broker-url names a RabbitMQ: add --broker rabbitmq")
    config = StackConfig(
        workers=workers,
        baseline_workers=baseline_workers,
        port=port,
        redis_url=redis_url,
        run_dir=run_dir,
        prometheus=prometheus,
        prometheus_port=prometheus_port,
        broker=broker,
        broker_url=broker_url,
        rabbitmq_management_url=rabbitmq_management_url,
        queue_type=queue_type,
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        local = LocalStack(config)
    except StackError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("starting the burstlab stack ...")
    try:
        local.start(cancel=stop)
    except StackInterrupted:
        click.echo("stopped before the stack was ready")
        return
    try:
        click.echo(f"producer  {local.producer_url}   (POST /jobs, GET /jobs/ID)")
        click.echo(f"baseline  {local.baseline_url}   ({baseline_workers} gunicorn sync workers)")
        click.echo(f"workers   {workers} Celery worker processes")
        click.echo(f"redis     {local.redis_url}   (job records and events)")
        if local.broker_url != local.redis_url:
            click.echo(f"rabbitmq  {local.broker_url}   (the async queue, {queue_type})")
        if local.rabbitmq_management_url:
            click.echo(f"rabbitmq  {local.rabbitmq_management_url}   (management API)")
        for job, url in local.metrics_urls.items():
            click.echo(f"metrics   {url}   ({job})")
        if local.prometheus_url:
            click.echo(f"prometheus {local.prometheus_url}   (rules and alerts: /rules, /alerts)")
        click.echo(f"logs      {local.run_dir}")
        click.echo("ready; press Ctrl-C to stop (a service that dies is restarted)")
        while not stop.wait(0.5):
            pass
    finally:
        click.echo("stopping ...")
        local.stop()
        click.echo("stopped")
