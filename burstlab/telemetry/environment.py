"""What a measurement ran on: the machine and the versions of the libraries it exercised.

Every run's ``summary.json`` carries both, and reports name the versions, so a figure can be
traced to the releases it was measured with (a redis-py or kombu release can change recovery).
"""

from __future__ import annotations

import os
import platform
from importlib import metadata

MEASURED_PACKAGES = (
    "celery", "kombu", "redis", "hiredis", "aiohttp", "aio-pika", "aiormq", "gunicorn",
    "uvloop", "prometheus-client",
)  # fmt: skip
"""The libraries on the measured paths: broker clients, the worker, the servers, the metrics."""


def versions(packages: tuple[str, ...] = MEASURED_PACKAGES) -> dict[str, str]:
    """Installed version of each package (``"not installed"`` for one that is missing)."""
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def versions_line(found: dict[str, str]) -> str:
    """``celery 5.7.0, kombu 5.7.0, ...``: the versions as one line of a report."""
    return ", ".join(f"{name} {version}" for name, version in found.items())


def machine(**extra: object) -> dict[str, object]:
    """The machine of a run: CPUs and Python, plus ``extra`` facts of the run kind."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(), **extra}
