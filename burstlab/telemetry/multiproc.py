"""Multiprocess mode for forking servers, set up before ``prometheus_client`` is imported.

``prometheus_client`` decides at import time whether values live in memory or in per-process
files under ``PROMETHEUS_MULTIPROC_DIR``. A forking server (Celery prefork, gunicorn) must
therefore set that directory, and wipe what an earlier run left in it, first thing in its
start-up path. This module imports nothing from ``prometheus_client`` on purpose.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class MetricsSetupError(RuntimeError):
    """Multiprocess mode was requested too late: ``prometheus_client`` is already imported."""


def _already_imported() -> bool:
    return "prometheus_client" in sys.modules


def prepare_multiprocess_dir(service: str) -> Path:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at a clean folder for ``service`` and return it.

    An existing ``PROMETHEUS_MULTIPROC_DIR`` is kept and its ``*.db`` files (values of a
    previous run) are removed; without one, a fresh temporary folder is made and removed when
    this process exits. Raises :class:`MetricsSetupError` if ``prometheus_client`` was imported
    already, since it would not see the folder.
    """
    if _already_imported():
        raise MetricsSetupError(
            f"{service}: prometheus_client was imported before multiprocess mode was set up; "
            "its metrics would count one process only"
        )
    configured = os.environ.get(MULTIPROC_DIR_ENV, "").strip()
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        path = Path(tempfile.mkdtemp(prefix=f"burstlab-{service}-metrics-"))
        _remove_at_exit(path)
    os.environ[MULTIPROC_DIR_ENV] = str(path)
    return path


def disable_multiprocess_mode() -> None:
    """Make sure a single-process service keeps its values in memory.

    An inherited ``PROMETHEUS_MULTIPROC_DIR`` would put an asyncio server's metrics in files
    for nothing; raises :class:`MetricsSetupError` if it is too late to change.
    """
    if os.environ.pop(MULTIPROC_DIR_ENV, None) is not None and _already_imported():
        raise MetricsSetupError("prometheus_client was imported in multiprocess mode already")


def _remove_at_exit(path: Path) -> None:
    owner = os.getpid()

    def remove() -> None:
        # Forked children inherit atexit handlers; only the process that made the folder removes it.
        if os.getpid() == owner:
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(remove)
