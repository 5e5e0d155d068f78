"""Start and stop the whole stack from Python: Redis, baseline, Celery worker, producer."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from stack.ports import free_port
from stack.process import ManagedProcess
from stack.prometheus_server import MONITORING_DIR, prepare_config_dir, prometheus_process
from stack.redis_server import redis_process


class StackError(RuntimeError):
    """A service of the stack did not start or become healthy."""


@dataclass(frozen=True)
class StackConfig:
    """What to start: worker counts, ports (0 picks a free one), an external Redis or not."""

    workers: int = 2
    baseline_workers: int = 2
    port: int = 0
    baseline_port: int = 0
    redis_url: str | None = None
    host: str = "127.0.0.1"
    run_dir: Path | None = None
    """Logs and Redis data go here; ``None`` uses a temporary folder removed on stop."""
    start_timeout_s: float = 30.0
    extra_env: dict[str, str] = field(default_factory=dict)
    prometheus: bool = False
    """Also start a Prometheus (``monitoring/prometheus``'s config and rules) scraping the stack."""
    prometheus_port: int = 0
    monitoring_dir: Path = MONITORING_DIR

    def __post_init__(self) -> None:
        if self.workers < 1 or self.baseline_workers < 1:
            raise ValueError("workers and baseline_workers must be at least 1")


_NOT_INHERITED = ("BURSTLAB_", "CELERY_", "PROMETHEUS_MULTIPROC_DIR")


def _service_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _http_ok(url: str, timeout_s: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class LocalStack:
    """The burstlab services as processes; use as a context manager or call start/stop."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self._owns_run_dir = config.run_dir is None
        self.run_dir = Path(config.run_dir or tempfile.mkdtemp(prefix="burstlab-stack-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        host = config.host
        self.redis: ManagedProcess | None = None
        if config.redis_url:
            self.redis_url = config.redis_url
        else:
            redis_port = free_port(host)
            self.redis_url = f"redis://{host}:{redis_port}/0"
            self.redis = redis_process(
                redis_port, self.run_dir / "redis-data", self.run_dir / "redis.log", host=host
            )
        self.port = config.port or free_port(host)
        self.baseline_port = config.baseline_port or free_port(host)
        self.worker_metrics_port = free_port(host)
        self.baseline_metrics_port = free_port(host)
        self.producer_url = f"http://{host}:{self.port}"
        self.baseline_url = f"http://{host}:{self.baseline_port}"
        self.metrics_urls = {
            "producer": f"{self.producer_url}/metrics",
            "worker": f"http://{host}:{self.worker_metrics_port}/metrics",
            "baseline": f"http://{host}:{self.baseline_metrics_port}/metrics",
        }
        """Each service's ``/metrics``, by scrape job name."""
        metrics_dir = self.run_dir / "metrics"
        common = {"REDIS_URL": self.redis_url, **config.extra_env}
        python = [sys.executable, "-m", "burstlab"]
        self.baseline = ManagedProcess(
            "baseline",
            [*python, "baseline"],
            _service_env(
                {
                    **common,
                    "BASELINE_HOST": host,
                    "BASELINE_PORT": str(self.baseline_port),
                    "BASELINE_WORKERS": str(config.baseline_workers),
                    "BASELINE_METRICS_PORT": str(self.baseline_metrics_port),
                    "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir / "baseline"),
                }
            ),
            self.run_dir / "baseline.log",
        )
        self.worker = ManagedProcess(
            "worker",
            [*python, "worker"],
            _service_env(
                {
                    **common,
                    "WORKER_CONCURRENCY": str(config.workers),
                    "WORKER_METRICS_HOST": host,
                    "WORKER_METRICS_PORT": str(self.worker_metrics_port),
                    "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir / "worker"),
                }
            ),
            self.run_dir / "worker.log",
        )
        self.producer = ManagedProcess(
            "producer",
            [*python, "producer"],
            _service_env(
                {
                    **common,
                    "PRODUCER_HOST": host,
                    "PRODUCER_PORT": str(self.port),
                    "BASELINE_URL": self.baseline_url,
                }
            ),
            self.run_dir / "producer.log",
        )
        self.prometheus: ManagedProcess | None = None
        self.prometheus_url: str | None = None
        if config.prometheus:
            prometheus_port = config.prometheus_port or free_port(host)
            self.prometheus_url = f"http://{host}:{prometheus_port}"
            folder = self.run_dir / "prometheus"
            targets = {job: [url.split("/")[2]] for job, url in self.metrics_urls.items()}
            targets["prometheus"] = [f"{host}:{prometheus_port}"]
            config_path = prepare_config_dir(folder, targets, config.monitoring_dir)
            self.prometheus = prometheus_process(
                config_path, host, prometheus_port, folder / "data", self.run_dir / "prometheus.log"
            )

    @property
    def processes(self) -> list[ManagedProcess]:
        """Every process of the stack, in start order."""
        first = [self.redis] if self.redis else []
        last = [self.prometheus] if self.prometheus else []
        return [*first, self.baseline, self.worker, self.producer, *last]

    def start(self) -> LocalStack:
        """Start every service and wait until each is healthy; on failure stop what started."""
        try:
            if self.redis:
                self.redis.start()
                self._wait("redis", self._redis_ready)
            self.baseline.start()
            self.worker.start()
            self.producer.start()
            if self.prometheus:
                self.prometheus.start()
            self._wait("baseline", lambda: _http_ok(f"{self.baseline_url}/healthz"), self.baseline)
            self._wait(
                "baseline metrics", lambda: _http_ok(self.metrics_urls["baseline"]), self.baseline
            )
            self._wait("producer", lambda: _http_ok(f"{self.producer_url}/healthz"), self.producer)
            self._wait("worker", self.worker_ready, self.worker)
            self._wait("worker metrics", lambda: _http_ok(self.metrics_urls["worker"]), self.worker)
            if self.prometheus:
                url = f"{self.prometheus_url}/-/ready"
                self._wait("prometheus", lambda: _http_ok(url), self.prometheus)
                # A rate needs a sample from before the first job: wait for one of every target.
                self._wait("prometheus' first scrapes", self._all_targets_up, self.prometheus)
        except BaseException:
            self.stop()
            raise
        return self

    def _all_targets_up(self) -> bool:
        from telemetry.prometheus_api import PrometheusClient, PrometheusError

        try:
            targets = PrometheusClient(self.prometheus_url or "", timeout_s=1.0).targets()
        except (PrometheusError, OSError):
            return False
        jobs = {t["labels"]["job"] for t in targets if t["health"] == "up"}
        return jobs >= {*self.metrics_urls, "prometheus"}

    def _redis_ready(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.redis_url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def worker_ready(self) -> bool:
        """Whether the Celery worker answers a control ping."""
        from workers.app import create_celery_app
        from workers.config import WorkerConfig

        app = create_celery_app(WorkerConfig(redis_url=self.redis_url))
        try:
            return bool(app.control.ping(timeout=0.5))
        except Exception:
            return False
        finally:
            app.close()

    def _wait(self, name: str, check, process: ManagedProcess | None = None) -> None:  # type: ignore[no-untyped-def]
        process = process or self.redis
        deadline = time.monotonic() + self.config.start_timeout_s
        while time.monotonic() < deadline:
            if process is not None and not process.is_running():
                raise StackError(
                    f"{name} exited with code {process.returncode()} while starting; "
                    f"log {process.log_path}:\n{process.tail()}"
                )
            if check():
                return
            time.sleep(0.1)
        log = process.log_path if process else "?"
        raise StackError(
            f"{name} did not become healthy within {self.config.start_timeout_s:g} s; log {log}"
        )

    def stop(self) -> None:
        """Stop every process (Prometheus first, Redis last) and remove temporary files."""
        for process in reversed(self.processes):
            process.stop()
        if self._owns_run_dir:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.run_dir)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
