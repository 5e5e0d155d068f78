"""Worker replicas of the compose stack: ``docker compose up -d --no-recreate --scale worker=N``.

``--no-recreate`` keeps the running containers (and the jobs they run); compose adds the missing
ones or stops the newest, which get SIGTERM and ``stop_grace_period`` to finish their job.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

WORKER_SERVICE = "worker"


class ComposeCommandError(RuntimeError):
    """A ``docker compose`` command failed."""


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

    def _run(self, args: list[str]) -> str:
        argv = [self.docker, "compose", "-f", str(self.compose_file)]
        if self.project:
            argv += ["-p", self.project]
        argv += args
        proc = subprocess.run(
            argv, capture_output=True, text=True, env={**os.environ, **self.env}, check=False
        )
        if proc.returncode != 0:
            raise ComposeCommandError(
                f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc.stdout

    def requested(self) -> int:
        return self._requested

    def ready(self) -> int:
        out = self._run(["ps", "--format", "json", WORKER_SERVICE]).strip()
        if not out:
            return 0
        rows = json.loads(out) if out.startswith("[") else [json.loads(x) for x in out.splitlines()]
        return sum(
            1
            for r in rows
            if r.get("State") == "running" and r.get("Health", "healthy") in ("healthy", "")
        )

    def scale(self, replicas: int) -> None:
        self._run(
            ["up", "-d", "--no-deps", "--no-recreate", "--scale", f"{WORKER_SERVICE}={replicas}",
             WORKER_SERVICE]
        )  # fmt: skip
        self._requested = replicas

    def close(self) -> None:
        return None
