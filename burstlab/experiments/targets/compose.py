"""Scaling the compose stack between runs: ``burstlab run --compose``.

For each worker count N the runner scales the compose ``worker`` service to N replicas and
recreates the ``baseline`` service with N gunicorn workers (``BASELINE_WORKERS``), waits until
every replica is running and healthy and the producer is ready, and records how many replicas
really ran.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from burstlab.client import Producer
from burstlab.experiments.targets.stacks import Target

WORKER_SERVICE = "worker"
BASELINE_SERVICE = "baseline"


class ComposeError(RuntimeError):
    """A compose command failed or the stack did not become ready in time."""


@dataclass
class ComposeScaler:
    """Runs ``docker compose`` commands against one compose file."""

    target_url: str
    compose_file: Path = Path("docker-compose.yml")
    docker: str = "docker"
    project: str | None = None
    ready_timeout_s: float = 120.0
    worker_concurrency: int = 1
    env: dict[str, str] = field(default_factory=dict)

    def _base(self) -> list[str]:
        argv = [self.docker, "compose", "-f", str(self.compose_file)]
        if self.project:
            argv += ["-p", self.project]
        return argv

    def _run(self, args: Sequence[str], extra_env: dict[str, str] | None = None) -> str:
        argv = [*self._base(), *args]
        env = {**os.environ, **self.env, **(extra_env or {})}
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise ComposeError(
                f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc.stdout

    def scale(self, workers: int) -> int:
        """Scale to ``workers`` worker replicas and baseline workers; return replicas running."""
        env = {
            "BASELINE_WORKERS": str(workers),
            "WORKER_CONCURRENCY": str(self.worker_concurrency),
        }
        self._run(
            ["up", "-d", "--no-deps", "--scale", f"{WORKER_SERVICE}={workers}", WORKER_SERVICE],
            env,
        )
        self._run(["up", "-d", "--no-deps", "--force-recreate", BASELINE_SERVICE], env)
        return self.wait_ready(workers)

    def replicas(self) -> list[dict[str, Any]]:
        """The worker containers compose reports (``docker compose ps --format json``)."""
        out = self._run(["ps", "--format", "json", WORKER_SERVICE]).strip()
        if not out:
            return []
        if out.startswith("["):
            return list(json.loads(out))
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def wait_ready(self, workers: int) -> int:
        """Wait until ``workers`` replicas run healthy and the producer is ready."""
        deadline = time.monotonic() + self.ready_timeout_s
        running: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            running = [
                r
                for r in self.replicas()
                if r.get("State") == "running" and r.get("Health", "healthy") in ("healthy", "")
            ]
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
