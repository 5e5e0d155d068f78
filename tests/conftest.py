"""Fixtures that start real services on free ports and tear them down."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from burstlab.stack.local import LocalStack, StackConfig
from burstlab.stack.ports import PORT_RANGE_ENV, free_port, port_range
from burstlab.stack.process import ManagedProcess
from burstlab.stack.redis_server import redis_process


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, give each worker its own slice of the service-port range (inherited
    by every process it starts), so two workers never draw the same port at the same moment."""
    worker, count = (
        os.environ.get("PYTEST_XDIST_WORKER"),
        os.environ.get("PYTEST_XDIST_WORKER_COUNT"),
    )
    if not worker or not count or PORT_RANGE_ENV in os.environ:
        return
    index, workers = int(worker.removeprefix("gw")), int(count)
    low, high = port_range()
    width = (high - low + 1) // workers
    os.environ[PORT_RANGE_ENV] = f"{low + index * width}-{low + (index + 1) * width - 1}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The compose suite runs only when asked for (``-m compose``: ``make test-compose``): it
    builds images and starts a Docker engine, which the other suites never need."""
    if "compose" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="the compose suite: make test-compose (pytest -m compose)")
    for item in items:
        if item.get_closest_marker("compose"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Redis server for the session."""
    import redis

    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = redis_process(port, folder / "data", folder / "redis.log")
    process.start()
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                import time

                time.sleep(0.05)
        yield url
    finally:
        process.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A whole local stack (4 Celery worker processes, 4 gunicorn workers) for the session."""
    run_dir = tmp_path_factory.mktemp("stack")
    local = LocalStack(StackConfig(workers=4, baseline_workers=4, run_dir=run_dir))
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused."""
    return free_port()


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections but never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()


def spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> ManagedProcess:
    """Start ``argv`` as a managed process with ``env`` added to this environment."""
    process = ManagedProcess(name, argv, {**os.environ, **env}, log_dir / f"{name}.log")
    process.start()
    return process


@pytest.fixture(scope="session")
def prometheus_installed() -> None:
    """Skip locally without Prometheus; fail in CI, which must install it."""
    if shutil.which("prometheus") and shutil.which("promtool"):
        return
    if os.environ.get("CI"):
        pytest.fail("prometheus is not installed (Debian package prometheus); CI must have it")
    pytest.skip("prometheus is not installed (apt-get install prometheus)")
