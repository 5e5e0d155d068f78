"""Serve the baseline with gunicorn sync workers, configured from :class:`BaselineConfig`."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from jobs.work import calibrate
from sync_baseline.app import WSGIApp, create_app
from sync_baseline.config import BaselineConfig


def _post_fork(_server: Any, _worker: Any) -> None:
    calibrate()


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
        "post_fork": _post_fork,
        "proc_name": "burstlab-baseline",
    }


class BaselineServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application that serves :func:`create_app` with ``config``."""

    def __init__(self, config: BaselineConfig) -> None:
        self._config = config
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self._config).items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        return create_app(self._config)


def run_baseline(config: BaselineConfig) -> None:
    """Run gunicorn in this process until it is stopped."""
    BaselineServer(config).run()
