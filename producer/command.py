"""``burstlab producer``: the producer's entry point (``burstlab.__main__`` joins it)."""

from __future__ import annotations

import dataclasses
import logging
import os

import click


@click.command()
@click.option("--host", help="Listen address (env PRODUCER_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (env PRODUCER_PORT, default 8080).")
def producer(host: str | None, port: int | None) -> None:
    """Run the aiohttp producer (settings from the environment)."""
    from burstlab.telemetry.multiproc import disable_multiprocess_mode

    disable_multiprocess_mode()  # one asyncio process: metrics stay in memory
    from producer.app import run_producer
    from producer.config import ProducerConfig

    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = ProducerConfig.from_env()
    if host is not None:
        config = dataclasses.replace(config, host=host)
    if port is not None:
        config = dataclasses.replace(config, port=port)
    run_producer(config)
