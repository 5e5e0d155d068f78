"""Serve the baseline with gunicorn sync workers, configured from :class:`BaselineConfig`.

Metrics: the workers write to the multiprocess folder; the master, which never serves a job,
answers ``/metrics`` on its own port, so a scrape gets through even when every worker is busy
with a long job and the listen backlog is full. A worker that exits is marked dead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from prometheus_client.multiprocess import mark_process_dead

from burstlab.telemetry.exposition import MetricsServer, multiprocess_registry
from sync_baseline.app import WSGIApp, create_app
from sync_baseline.config import BaselineConfig
from sync_baseline.metrics import BaselineMetrics


def gunicorn_options(config: BaselineConfig) -> dict[str, Any]:
    """Gunicorn settings: sync workers, an explicit listen backlog and request timeout."""
    return {
        "bind": f"{config.host}:{config.port}",
        "workers": config.workers,
        "worker_class": "sync",
        "backlog": config.backlog,
        "timeout": int(config.timeout_s),
        "graceful_timeout": 5,
        "keepalive": 2,
        "loglevel": config.log_level,
        "accesslog": None,
        "errorlog": "-",
        "proc_name": "burstlab-baseline",
    }


class BaselineServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application that serves :func:`create_app` with ``config``.

    With ``metrics_dir`` (multiprocess mode set up before ``prometheus_client`` was imported)
    the master serves the workers' metrics on ``config.metrics_port``.
    """

    def __init__(self, config: BaselineConfig, metrics_dir: Path | None = None) -> None:
        self._config = config
        self._metrics_dir = metrics_dir
        self._metrics = BaselineMetrics(None)
        self._metrics.initialize_labels()
        self._metrics_server: MetricsServer | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self._config).items():
            self.cfg.set(key, value)
        self.cfg.set("when_ready", self._when_ready)
        self.cfg.set("post_fork", self._post_fork)
        self.cfg.set("post_worker_init", self._post_worker_init)
        self.cfg.set("child_exit", self._child_exit)
        self.cfg.set("on_exit", self._on_exit)

    def load(self) -> WSGIApp:
        return create_app(self._config, self._metrics)

    def _when_ready(self, _server: Any) -> None:
        if self._metrics_dir is not None and self._config.metrics_port:
            registry = multiprocess_registry(self._metrics_dir)
            self._metrics_server = MetricsServer(
                self._config.host, self._config.metrics_port, registry
            )

    def _post_fork(self, _server: Any, _worker: Any) -> None:
        if self._metrics_server is not None:
            self._metrics_server.close_in_child()

    def _post_worker_init(self, _worker: Any) -> None:
        self._metrics.processes.set(1)

    def _child_exit(self, _server: Any, worker: Any) -> None:
        if self._metrics_dir is not None:
            mark_process_dead(worker.pid, str(self._metrics_dir))

    def _on_exit(self, _server: Any) -> None:
        if self._metrics_server is not None:
            self._metrics_server.shutdown()


def run_baseline(config: BaselineConfig, metrics_dir: Path | None = None) -> None:
    """Run gunicorn in this process until it is stopped."""
    BaselineServer(config, metrics_dir).run()
