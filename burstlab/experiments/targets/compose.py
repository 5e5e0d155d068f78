"""Scaling the compose stack between runs: ``burstlab run --compose``.

For each worker count N the runner scales the compose ``worker`` service to N replicas and
recreates the ``baseline`` service with N gunicorn workers (``BASELINE_WORKERS``), waits until
every replica is running and healthy and the producer is ready, and records how many replicas
really ran.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from burstlab.client import Producer
from burstlab.compose.client import Compose, ComposeError, Container
from burstlab.experiments.targets.stacks import Target

WORKER_SERVICE = "worker"
BASELINE_SERVICE = "baseline"


@dataclass
class ComposeScaler:
    """Scales one compose project's workers and baseline (the plugin or the standalone binary:
    :func:`burstlab.compose.client.compose_command`)."""

    target_url: str
    compose_file: Path = Path("docker-compose.yml")
    docker: str = "docker"
    project: str | None = None
    ready_timeout_s: float = 120.0
    worker_concurrency: int = 1
    env: dict[str, str] = field(default_factory=dict)

    @property
    def compose(self) -> Compose:
        return Compose(self.compose_file, self.project, self.env, docker=self.docker)

    def scale(self, workers: int) -> int:
        """Scale to ``workers`` worker replicas and baseline workers; return replicas running."""
        env = {
            "BASELINE_WORKERS": str(workers),
            "WORKER_CONCURRENCY": str(self.worker_concurrency),
        }
        compose = self.compose
        compose.run(
            ["up", "-d", "--no-deps", "--scale", f"{WORKER_SERVICE}={workers}", WORKER_SERVICE],
            env,
        )
        compose.run(["up", "-d", "--no-deps", "--force-recreate", BASELINE_SERVICE], env)
        return self.wait_ready(workers)

    def replicas(self) -> list[Container]:
        """The worker containers compose reports."""
        return self.compose.containers(WORKER_SERVICE)

    def wait_ready(self, workers: int) -> int:
        """Wait until ``workers`` replicas run healthy and the producer is ready."""
        deadline = time.monotonic() + self.ready_timeout_s
        running: list[Container] = []
        while time.monotonic() < deadline:
            running = [r for r in self.replicas() if r.ready]
            if len(running) == workers and Producer(self.target_url, timeout_s=2).ready():
                return len(running)
            time.sleep(1.0)
        raise ComposeError(
            f"{len(running)} of {workers} worker replicas healthy after {self.ready_timeout_s:g} s"
        )

    @contextlib.contextmanager
    def stack(self, workers: int) -> Iterator[Target]:
        """A stack factory for the runner: scale, then yield the target with its replica count."""
        yield Target(self.target_url, replicas=self.scale(workers))
