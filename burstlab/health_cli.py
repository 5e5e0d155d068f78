"""Health checks for containers: ``burstlab check URL`` and ``burstlab check-worker``.

The image has no curl; these run with the same Python as the services.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import click


@click.command()
@click.argument("url")
@click.option("--timeout", type=float, default=3.0, show_default=True)
def check(url: str, timeout: float) -> None:
    """Exit 0 if URL answers HTTP 200 within the timeout, else 1."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            ok = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(f"{url}: {exc}") from exc
    if not ok:
        raise click.ClickException(f"{url}: HTTP {response.status}")


@click.command("check-worker")
@click.option("--timeout", type=float, default=3.0, show_default=True)
def check_worker(timeout: float) -> None:
    """Exit 0 if the Celery worker on this host answers a control ping over the broker."""
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
