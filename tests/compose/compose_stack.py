"""The compose suite's helpers: a stack of the repository's docker-compose.yml under a project
name of its own, and the few docker and producer calls the tests share."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from burstlab.client import Producer, ProducerError
from burstlab.compose.client import Compose
from burstlab.compose.envfile import from_example
from burstlab.jobs.record import FINAL_STATUSES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
# Every service but Grafana (and the profiles' own: rabbitmq, loadgen).
SERVICES = ("redis", "baseline", "producer", "worker", "prometheus")


def docker(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def app_image() -> str:
    return f"burstlab:{os.environ.get('BURSTLAB_IMAGE_TAG', '0.1.0')}"


def env_file(path: Path, variables: dict[str, str], extra: dict[str, str]) -> Path:
    """``.env.example`` as a user copies it, with the passwords set and the given variables."""
    passwords = {
        name: secrets.token_hex(8)
        for name in ("REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "RABBITMQ_PASSWORD")
    }
    return from_example(ROOT / ".env.example", path, {**passwords, **variables, **extra})


@dataclass
class Stack:
    """One compose project of the repository's docker-compose.yml."""

    compose: Compose
    producer_url: str
    prometheus_url: str
    values: dict[str, str] = field(default_factory=dict)
    docker_config: Path | None = None  # a Docker CLI configuration with the compose plugin

    @property
    def producer(self) -> Producer:
        return Producer(self.producer_url, timeout_s=10)

    @property
    def project(self) -> str:
        assert self.compose.project
        return self.compose.project

    def cli_env(self) -> dict[str, str]:
        """The environment a ``burstlab`` or ``docker compose`` command of this project runs in,
        as a user's shell in the repository would: the project and env file named the way compose
        reads them, and ``docker compose`` answering (the plugin)."""
        env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": self.project,
            "COMPOSE_ENV_FILES": str(self.compose.env_file),
        }
        if self.docker_config is not None:
            env["DOCKER_CONFIG"] = str(self.docker_config)
        return env

    def docker_compose(
        self, *args: str, env: dict[str, str] | None = None, timeout_s: float = 600
    ) -> subprocess.CompletedProcess[bytes]:
        """``docker compose ARGS`` as written in the docs, run from the repository."""
        return subprocess.run(
            ["docker", "compose", *args], cwd=ROOT, env={**self.cli_env(), **(env or {})},
            capture_output=True, timeout=timeout_s, check=False,
        )  # fmt: skip

    def up(self, *services: str, scale: int, timeout_s: float = 300) -> None:
        self.compose.run(
            ["up", "-d", "--no-build", "--wait", "--wait-timeout", f"{timeout_s:.0f}",
             "--scale", f"worker={scale}", *services],
            extra_env={"BASELINE_WORKERS": str(scale)},
            timeout_s=timeout_s + 60,
        )  # fmt: skip

    def container_id(self, service: str, index: int = 1) -> str:
        """Compose names a service's containers PROJECT-SERVICE-INDEX."""
        return f"{self.project}-{service}-{index}"

    def inspect(self, container: str) -> dict[str, object]:
        return dict(json.loads(docker("inspect", container))[0])

    def crash_worker(self, index: int) -> None:
        """SIGKILL every process of worker replica ``index`` but its init, as a crash or an OOM
        kill ends them: the container exits 137 and its restart policy brings it back (``docker
        kill`` would count as a manual stop, which a restart policy ignores)."""
        self.compose.run(
            ["exec", "-T", "--index", str(index), "worker", "sh", "-c", "kill -KILL -1"]
        )

    def wait_healthy(self, container: str, timeout_s: float = 120) -> dict[str, object]:
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.inspect(container)["State"]
            assert isinstance(state, dict)
            health = state.get("Health") or {}
            if state.get("Running") and health.get("Status", "healthy") == "healthy":
                return state
            assert time.monotonic() < deadline, f"{container} not healthy: {state}"
            time.sleep(1)

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.producer.ready():
            assert time.monotonic() < deadline, "the producer never became ready"
            time.sleep(1)

    def left_behind(self) -> dict[str, list[str]]:
        """The project's containers, networks and volumes the engine still has."""
        label = f"label=com.docker.compose.project={self.project}"
        return {
            "containers": docker("ps", "-aq", "--filter", label).split(),
            "networks": docker("network", "ls", "-q", "--filter", label).split(),
            "volumes": docker("volume", "ls", "-q", "--filter", label).split(),
        }

    def down(self) -> None:
        """``down -v`` as the docs give it: a profile's volumes (the loadgen's ``results``) go
        only with the profile named."""
        self.compose.run(
            ["--profile", "loadgen", "--profile", "rabbitmq", "down", "-v", "--timeout", "5"],
            timeout_s=180,
        )


def submit_async(producer: Producer, count: int, duration_ms: float) -> list[str]:
    """Submit ``count`` async io jobs; their ids (each must be accepted)."""
    return [producer.submit("async", "io", duration_ms)["job_id"] for _ in range(count)]


def wait_all_ended(
    producer: Producer, job_ids: list[str], timeout_s: float
) -> dict[str, dict[str, Any]]:
    """Poll until every job has a final status; the jobs as the producer reports them."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            jobs = producer.lookup(job_ids)
        except ProducerError:
            jobs = {}
        open_ = [j for j in job_ids if jobs.get(j, {}).get("status") not in FINAL_STATUSES]
        if not open_ or time.monotonic() > deadline:
            return jobs
        time.sleep(1)


@dataclass(frozen=True)
class Crash:
    """What a worker replica crashed mid-burst left: how the burst's jobs ended, the replica's
    restarts, and where jobs sent after its comeback ran."""

    statuses: dict[str, int]
    restarts: int
    ran_on_it_after: int


def crash_mid_burst(stack: Stack, index: int, jobs: int, later: int) -> Crash:
    """Send ``jobs`` async jobs of 100 ms, crash replica ``index`` a second in, wait for every
    job to end and the replica to be healthy again, then send ``later`` more."""
    producer = stack.producer
    crashed = stack.container_id("worker", index)
    hostname = str(stack.inspect(crashed)["Config"]["Hostname"])  # type: ignore[index]
    restarts = int(stack.inspect(crashed)["RestartCount"])  # type: ignore[call-overload]
    job_ids = submit_async(producer, jobs, 100)
    time.sleep(1.0)
    stack.crash_worker(index)
    ended = wait_all_ended(producer, job_ids, timeout_s=120)
    statuses = dict(Counter(str(job.get("status")) for job in ended.values()))
    stack.wait_healthy(crashed)
    after = wait_all_ended(producer, submit_async(producer, later, 100), timeout_s=120)
    on_it = sum(str(j.get("worker", "")).endswith(f"@{hostname}") for j in after.values())
    return Crash(statuses, int(stack.inspect(crashed)["RestartCount"]) - restarts, on_it)  # type: ignore[call-overload]
