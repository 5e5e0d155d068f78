"""Start and stop the whole stack from Python: Redis, baseline, Celery worker, producer, and a
RabbitMQ node when it is the broker.

Once started, a supervisor restarts any service process that dies unasked (as compose's
``restart: unless-stopped``); :meth:`LocalStack.stop_service` stops one on purpose.
:meth:`LocalStack.stop` stops every service together within ``stop_timeout_s`` (plus a second
for Redis); if this process dies instead, its services die with it (a parent-death signal).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from burstlab.jobs.target import TaskTarget
from burstlab.settings import BROKERS, QUEUE_TYPES
from burstlab.stack.health import (
    amqp_ready,
    external_ready,
    http_ok,
    prometheus_targets_up,
    redis_ready,
    worker_ready,
)
from burstlab.stack.ports import free_port
from burstlab.stack.process import ManagedProcess, stop_together
from burstlab.stack.prometheus_server import MONITORING_DIR, prepare_config_dir, prometheus_process
from burstlab.stack.rabbitmq_server import (
    INSTALL_HINT,
    RabbitNode,
    rabbitmq_process,
    rabbitmq_server_binary,
)
from burstlab.stack.redis_server import redis_process, redis_url
from burstlab.stack.supervisor import RestartEvent, Supervisor

SYNC_IN_FLIGHT_PER_BASELINE_WORKER = 2
"""The producer forwards at most this many sync jobs per gunicorn worker; the rest wait in it."""
REDIS_STOP_TIMEOUT_S = 1.0
"""Redis stops last (the services may write to it while stopping) and exits at once on SIGTERM."""
RABBITMQ_STOP_TIMEOUT_S = 10.0
"""A RabbitMQ node stops last too; its clean shutdown takes a few seconds."""
RABBITMQ_START_TIMEOUT_S = 90.0
"""A RabbitMQ node takes ~8 s to boot on an idle machine, several times that on a busy one."""


class StackError(RuntimeError):
    """A service of the stack did not start or become healthy."""


class StackInterrupted(StackError):
    """:meth:`LocalStack.start` was cancelled (e.g. Ctrl-C) before every service was healthy."""


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
    redis_password: str | None = None
    """Protect the private Redis with this password (every service's ``REDIS_URL`` carries it)."""
    redis_appendfsync: str = "everysec"
    """The private Redis' AOF fsync policy: ``everysec`` or ``always``."""
    supervise: bool = True
    """Restart a service process that dies unasked."""
    stop_timeout_s: float = 3.0
    """How long :meth:`LocalStack.stop` lets the services finish after SIGTERM before SIGKILL."""
    broker: str = "redis"
    """Where the async queue lives: ``redis`` (the stack's Redis) or ``rabbitmq``."""
    broker_url: str | None = None
    """An external RabbitMQ (``amqp://``) instead of a private node; ``broker`` must be
    ``rabbitmq``."""
    rabbitmq_management_url: str | None = None
    """The management API of the external RabbitMQ, if it has one (for the unacked count)."""
    queue_type: str = "classic"
    """The RabbitMQ queue type: ``classic`` or ``quorum``."""
    external: bool = False
    """With ``target``: the user's running workers take the jobs (``--external``); instead of
    workers the stack runs ``burstlab task-events``, which records their runs from events."""
    target: TaskTarget | None = None
    """The user's Celery task (its ``queue`` resolved): the workers are workers of their app
    with burstlab's hooks, the baseline calls the task's function, ``task`` jobs run it."""

    def __post_init__(self) -> None:
        if self.broker not in BROKERS:
            raise ValueError(f"broker must be one of {', '.join(BROKERS)}, got {self.broker!r}")
        if self.queue_type not in QUEUE_TYPES:
            raise ValueError(f"queue_type must be one of {', '.join(QUEUE_TYPES)}")
        if self.external and self.target is None:
            raise ValueError("external measures the running workers of a task target: give target")
        if self.broker_url and self.broker != "rabbitmq":
            raise ValueError("broker_url names an external RabbitMQ: use it with broker rabbitmq")
        if self.workers < 1 or self.baseline_workers < 1:
            raise ValueError("workers and baseline_workers must be at least 1")
        if self.stop_timeout_s < 0:
            raise ValueError("stop_timeout_s must not be negative")


_NOT_INHERITED = ("BURSTLAB_", "CELERY_", "PROMETHEUS_MULTIPROC_DIR")


def _service_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class LocalStack:
    """The burstlab services as processes; use as a context manager or call start/stop."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self._owns_run_dir = config.run_dir is None
        self.run_dir = Path(config.run_dir or tempfile.mkdtemp(prefix="burstlab-stack-"))
        self._cancel = threading.Event()
        try:
            self._prepare()
        except BaseException:
            self._remove_run_dir()
            raise

    def _prepare(self) -> None:
        config, host = self.config, self.config.host
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.redis: ManagedProcess | None = None
        if config.redis_url:
            self.redis_url = config.redis_url
        else:
            redis_port = free_port(host)
            self.redis_url = redis_url(host, redis_port, config.redis_password)
            self.redis = redis_process(
                redis_port,
                self.run_dir / "redis-data",
                self.run_dir / "redis.log",
                host=host,
                password=config.redis_password,
                appendfsync=config.redis_appendfsync,
            )
        self._prepare_broker()
        self.port = config.port or free_port(host)
        self.baseline_port = config.baseline_port or free_port(host)
        self.worker_metrics_port = free_port(host)
        self.baseline_metrics_port = free_port(host)
        self.producer_metrics_port = free_port(host)
        self.producer_url = f"http://{host}:{self.port}"
        self.baseline_url = f"http://{host}:{self.baseline_port}"
        self.metrics_urls = {
            "producer": f"http://{host}:{self.producer_metrics_port}/metrics",
            "worker": f"http://{host}:{self.worker_metrics_port}/metrics",
            "baseline": f"http://{host}:{self.baseline_metrics_port}/metrics",
        }
        """Each service's ``/metrics``, by scrape job name."""
        self._build_services()
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
        self.supervisor: Supervisor | None = None

    def _prepare_broker(self) -> None:
        """The broker: the stack's Redis, an external RabbitMQ, or a private RabbitMQ node."""
        config, host = self.config, self.config.host
        self.rabbitmq: ManagedProcess | None = None
        self.broker_url = self.redis_url
        self.rabbitmq_management_url = config.rabbitmq_management_url
        if config.broker != "rabbitmq":
            return
        if config.broker_url:
            self.broker_url = config.broker_url
            return
        if rabbitmq_server_binary() is None:
            raise StackError(INSTALL_HINT)
        node = RabbitNode(
            host=host,
            port=free_port(host),
            dist_port=free_port(host),
            management_port=free_port(host),
            password=secrets.token_urlsafe(16),
        )
        self.broker_url = node.url
        self.rabbitmq_management_url = node.management_url
        folder, log_path = self.run_dir / "rabbitmq", self.run_dir / "rabbitmq.log"
        self.rabbitmq = rabbitmq_process(node, folder, log_path)

    @property
    def brokers(self) -> list[ManagedProcess]:
        """The stack's own Redis and RabbitMQ processes (started first, stopped last)."""
        return [p for p in (self.redis, self.rabbitmq) if p is not None]

    def _build_services(self) -> None:
        config, host = self.config, self.config.host
        metrics_dir = self.run_dir / "metrics"
        common = {"REDIS_URL": self.redis_url}
        if config.target is not None:
            common.update(config.target.to_env())
            common["QUEUE_NAME"] = config.target.queue
        if config.broker == "rabbitmq":
            common["BROKER_URL"] = self.broker_url
            common["QUEUE_TYPE"] = config.queue_type
            if self.rabbitmq_management_url:
                common["RABBITMQ_MANAGEMENT_URL"] = self.rabbitmq_management_url
        python = [sys.executable, "-m", "burstlab"]

        def service(
            name: str,
            env: dict[str, str],
            death_signal: int = signal.SIGKILL,
            command: str | None = None,
        ) -> ManagedProcess:
            merged = _service_env({**common, **env, **config.extra_env})
            log_path = self.run_dir / f"{name}.log"
            argv = [*python, command or name]
            return ManagedProcess(name, argv, merged, log_path, death_signal=death_signal)

        self.baseline = service(
            "baseline",
            {
                "BASELINE_HOST": host,
                "BASELINE_PORT": str(self.baseline_port),
                "BASELINE_WORKERS": str(config.baseline_workers),
                "BASELINE_METRICS_PORT": str(self.baseline_metrics_port),
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir / "baseline"),
            },
            # gunicorn's workers would outlive a SIGKILLed master by up to half its request
            # timeout; SIGINT is its quick shutdown, which stops them first.
            death_signal=signal.SIGINT,
        )
        worker_name = "events" if config.external else "worker"
        self.events_token = secrets.token_hex(8)
        self.worker = service(
            worker_name,
            {
                "EVENTS_TOKEN": self.events_token,
                "WORKER_CONCURRENCY": str(config.workers),
                "WORKER_METRICS_HOST": host,
                "WORKER_METRICS_PORT": str(self.worker_metrics_port),
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir / "worker"),
            },
            command="task-events" if config.external else None,
        )
        in_flight = SYNC_IN_FLIGHT_PER_BASELINE_WORKER * config.baseline_workers
        self.producer = service(
            "producer",
            {
                "PRODUCER_HOST": host,
                "PRODUCER_PORT": str(self.port),
                "PRODUCER_METRICS_PORT": str(self.producer_metrics_port),
                "BASELINE_URL": self.baseline_url,
                "SYNC_MAX_INFLIGHT": str(in_flight),
            },
        )

    @property
    def processes(self) -> list[ManagedProcess]:
        """Every process of the stack, in start order."""
        first = self.brokers
        last = [self.prometheus] if self.prometheus else []
        return [*first, self.baseline, self.worker, self.producer, *last]

    def service(self, name: str) -> ManagedProcess:
        """The process of the service ``name`` (``redis``, ``baseline``, ``worker``, ...)."""
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(f"no service {name!r} in this stack")

    @property
    def restart_events(self) -> list[RestartEvent]:
        """Every restart the supervisor made, oldest first."""
        return list(self.supervisor.events) if self.supervisor else []

    def _health_checks(self) -> dict[str, Callable[[], bool]]:
        checks: dict[str, Callable[[], bool]] = {
            "redis": lambda: redis_ready(self.redis_url),
            "rabbitmq": lambda: amqp_ready(self.broker_url),
            "baseline": lambda: (
                http_ok(f"{self.baseline_url}/healthz") and http_ok(self.metrics_urls["baseline"])
            ),
            "producer": lambda: http_ok(f"{self.producer_url}/healthz"),
            "worker": lambda: self.worker_ready() and http_ok(self.metrics_urls["worker"]),
            "events": lambda: external_ready(self.redis_url, self.events_token),
        }
        if self.prometheus_url:
            url = self.prometheus_url
            jobs = {*self.metrics_urls, "prometheus"}
            seen: set[str] = set()
            # A rate needs a sample from before the first job: wait for one of every target.
            checks["prometheus"] = lambda: (
                http_ok(f"{url}/-/ready") and prometheus_targets_up(url, jobs, seen)
            )
        return checks

    def start(self, cancel: threading.Event | None = None) -> LocalStack:
        """Start every service and wait until each is healthy; on failure stop what started.

        Setting ``cancel`` (from a signal handler, another thread) while it waits stops what
        started and raises :class:`StackInterrupted`.
        """
        if cancel is not None:
            self._cancel = cancel
        try:
            self._check_cancelled("starting")
            brokers = self.brokers
            for process in brokers:
                process.start()
            for process in brokers:
                self.wait_healthy(process.name)
            for process in self.processes:
                if process not in brokers:
                    process.start()
            for process in self.processes:
                if process not in brokers:
                    self.wait_healthy(process.name)
        except BaseException:
            self.stop()
            raise
        if self.config.supervise:
            self.supervisor = Supervisor(self.processes)
            self.supervisor.start()
        return self

    def wait_healthy(self, name: str, timeout_s: float | None = None) -> float:
        """Wait until the service ``name`` is healthy; return how long that took (seconds).

        Raises :class:`StackError` if it exits (and no supervisor brings it back) or the
        timeout (default ``start_timeout_s``) passes.
        """
        process = self.service(name)
        check = self._health_checks()[name]
        started = time.monotonic()
        if timeout_s is None:
            timeout_s = self.config.start_timeout_s
            if name == "rabbitmq":
                timeout_s = max(timeout_s, RABBITMQ_START_TIMEOUT_S)
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            self._check_cancelled(f"{name} was starting")
            if not process.is_running() and self.supervisor is None:
                raise StackError(
                    f"{name} exited ({process.exit_description()}) while starting; "
                    f"log {process.log_path}:\n{process.tail()}"
                )
            if check():
                return time.monotonic() - started
            self._cancel.wait(0.1)
        raise StackError(
            f"{name} did not become healthy within {timeout_s:g} s;"
            f" log {process.log_path}:\n{process.tail()}"
        )

    def _check_cancelled(self, doing: str) -> None:
        if self._cancel.is_set():
            raise StackInterrupted(f"stopped while {doing}")

    def worker_ready(self) -> bool:
        """Whether the Celery worker answers a control ping."""
        return worker_ready(self.broker_url)

    def kill(self, name: str, signum: int = signal.SIGKILL, *, restart: bool = True) -> None:
        """Send ``signum`` to the service's whole process group.

        The supervisor restarts it, unless ``restart`` is false: then it stays down until
        :meth:`start_service` (a crash whose restart the caller times).
        """
        process = self.service(name)
        if not restart:
            with process.lock:
                process.wanted = False
        process.signal(signum)

    def kill_child(self, name: str, signum: int = signal.SIGKILL) -> int:
        """Send ``signum`` to one child of the service (a pool process); return its pid."""
        children = self.service(name).child_pids()
        if not children:
            raise StackError(f"{name} has no child process to kill")
        os.kill(children[0], signum)
        return children[0]

    def stop_service(self, name: str, timeout_s: float = 10.0) -> None:
        """Stop the service on purpose: it stays down until :meth:`start_service`."""
        self.service(name).stop(timeout_s)

    def start_service(self, name: str, *, wait: bool = True) -> None:
        """Start a stopped service again (same ports, same data) and wait until it is healthy."""
        process = self.service(name)
        with process.lock:
            if not process.is_running():
                process.start()
        if wait:
            self.wait_healthy(name)

    def stop(self) -> None:
        """Stop every process and remove temporary files.

        The supervisor is closed first, so nothing is restarted while stopping. The services
        get SIGTERM together and ``stop_timeout_s`` to exit, the brokers after them.
        """
        if self.supervisor is not None:
            self.supervisor.close()
            self.supervisor = None
        brokers = self.brokers
        services = [p for p in self.processes if p not in brokers]
        stop_together(services, self.config.stop_timeout_s)
        if brokers:
            timeout = RABBITMQ_STOP_TIMEOUT_S if self.rabbitmq else REDIS_STOP_TIMEOUT_S
            stop_together(brokers, timeout)
        self._remove_run_dir()

    def _remove_run_dir(self) -> None:
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
