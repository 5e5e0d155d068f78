"""Health check for containers: ``burstlab check URL`` (``check-worker`` is the workers' own).

The image has no curl; this runs with the same Python as the services.
"""

from __future__ import annotations

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
