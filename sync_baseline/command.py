"""``burstlab baseline``: the sync baseline's entry point (``burstlab.__main__`` joins it)."""

from __future__ import annotations

import dataclasses

import click


@click.command()
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
