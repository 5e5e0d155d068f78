"""A local Prometheus with burstlab's own config and rules, scraping the local stack.

``monitoring/prometheus/prometheus.yml`` is the one config for this stack and for compose.
Here it is linked into ``<run dir>/prometheus/`` with its ``rules/`` folder, next to a
``targets/`` folder written for this stack (file service discovery); Prometheus resolves the
config's relative paths against that folder, so the very same files are read in place.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from burstlab.dashboards.files import MONITORING_DIR
from burstlab.stack.process import ManagedProcess

CONFIG_NAME = "prometheus.yml"
RULES_DIR = "rules"
TARGETS_DIR = "targets"


class PrometheusNotFound(RuntimeError):
    """No ``prometheus`` binary on PATH."""


def prometheus_binary() -> str:
    """Return the ``prometheus`` executable (Debian package ``prometheus``)."""
    found = shutil.which("prometheus")
    if not found:
        raise PrometheusNotFound(
            "no 'prometheus' on PATH; install it (Debian: apt-get install prometheus)"
        )
    return found


def prepare_config_dir(
    folder: Path, targets: dict[str, list[str]], monitoring_dir: Path = MONITORING_DIR
) -> Path:
    """Link the repository's config and rules into ``folder`` and write its targets.

    ``targets`` maps a scrape job (``producer``, ``worker``, ...) to ``host:port`` strings.
    Returns the config path to pass to Prometheus.
    """
    source = monitoring_dir / "prometheus"
    if not (source / CONFIG_NAME).is_file():
        raise FileNotFoundError(f"no Prometheus config at {source / CONFIG_NAME}")
    folder.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG_NAME, RULES_DIR):
        link = folder / name
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(source / name, link)
    target_dir = folder / TARGETS_DIR
    target_dir.mkdir(exist_ok=True)
    for job, addresses in targets.items():
        groups = [{"targets": addresses, "labels": {}}]
        (target_dir / f"{job}.json").write_text(json.dumps(groups, indent=2) + "\n")
    return folder / CONFIG_NAME


def prometheus_process(
    config_path: Path, host: str, port: int, data_dir: Path, log_path: Path
) -> ManagedProcess:
    """Prometheus on ``host:port`` reading ``config_path``, keeping its TSDB in ``data_dir``."""
    argv = [
        prometheus_binary(),
        f"--config.file={config_path}",
        f"--storage.tsdb.path={data_dir}",
        "--storage.tsdb.retention.time=7d",
        f"--web.listen-address={host}:{port}",
    ]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    return ManagedProcess("prometheus", argv, env, log_path)
