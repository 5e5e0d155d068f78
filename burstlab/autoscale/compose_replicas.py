"""Worker replicas of the compose stack: ``docker compose up -d --no-recreate --scale worker=N``.

``--no-recreate`` keeps the running containers (and the jobs they run); compose adds the missing
ones or stops the newest, which get SIGTERM and ``stop_grace_period`` to finish their job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from burstlab.compose.client import Compose

WORKER_SERVICE = "worker"


@dataclass
class ComposeWorkerReplicas:
    """The compose ``worker`` service's replica count."""

    compose_file: Path = Path("docker-compose.yml")
    docker: str = "docker"
    project: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    initial: int = 1
    _requested: int = 0

    def __post_init__(self) -> None:
        self._requested = self.initial
        self._compose = Compose(self.compose_file, self.project, self.env, docker=self.docker)

    def requested(self) -> int:
        return self._requested

    def ready(self) -> int:
        return sum(1 for c in self._compose.containers(WORKER_SERVICE) if c.ready)

    def scale(self, replicas: int) -> None:
        self._compose.run(
            ["up", "-d", "--no-deps", "--no-recreate", "--scale", f"{WORKER_SERVICE}={replicas}",
             WORKER_SERVICE]
        )  # fmt: skip
        self._requested = replicas

    def close(self) -> None:
        return None
