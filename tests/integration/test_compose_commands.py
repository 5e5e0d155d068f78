"""The command lines the compose services run, run here as processes with the same variables.

Each app service's ``command`` and ``environment`` are read from docker-compose.yml and
interpolated as compose would; only what names the container network is rewritten for this
host (service names to 127.0.0.1, fixed ports to free ones, 0.0.0.0 to 127.0.0.1). Then every
healthcheck command must pass, jobs must run in both modes, and the loadgen command must run
an experiment against the producer.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from burstlab.client import Producer
from burstlab.stack.ports import free_port
from burstlab.stack.process import ManagedProcess
from burstlab.stack.redis_server import redis_process

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "compose-test-password"
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}")
TINY = """\
name = "compose-tiny"
workers = [2]
[[job]]
kind = "io"
duration_ms = 20
[arrival]
pattern = "burst"
size = 10
at_s = 0.1
duration_s = 0.2
[thresholds]
max_lost = 0
"""


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``."""

    def replace(match: re.Match[str]) -> str:
        name, kind, arg = match.groups()
        if variables.get(name):
            return variables[name]
        if kind == "?":
            raise AssertionError(f"{name} is required: {arg}")
        return arg or ""

    return INTERPOLATION.sub(replace, value)


class Host:
    """Rewrites container-network addresses for this machine."""

    def __init__(self, redis_port: int) -> None:
        self.ports = {6379: redis_port, 8080: free_port(), 8081: free_port(), 9540: free_port(),
                      9541: free_port()}  # fmt: skip

    def __call__(self, value: str) -> str:
        value = value.replace("0.0.0.0", "127.0.0.1")
        for service in ("redis", "baseline", "producer"):
            value = value.replace(f"@{service}:", "@127.0.0.1:").replace(
                f"//{service}:", "//127.0.0.1:"
            )
        for port, local in self.ports.items():
            value = re.sub(rf"(?<=[:/]){port}\b|^{port}$", str(local), value)
        return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


@pytest.fixture(scope="module")
def running(
    compose: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Host, dict[str, dict[str, str]]]]:
    folder = tmp_path_factory.mktemp("compose")
    redis_port = free_port()
    redis = redis_process(redis_port, folder / "redis", folder / "redis.log", password=PASSWORD)
    redis.start()
    host = Host(redis_port)
    variables = {"REDIS_PASSWORD": PASSWORD, "GRAFANA_ADMIN_PASSWORD": "unused"}
    envs: dict[str, dict[str, str]] = {}
    processes = [redis]
    try:
        for name in ("baseline", "worker", "producer"):
            service = compose["services"][name]
            env = {
                k: host(interpolate(str(v), variables)) for k, v in service["environment"].items()
            }
            envs[name] = env
            argv = [sys.executable, "-m", "burstlab", *service["command"]]
            process = ManagedProcess(name, argv, {**_base_env(), **env}, folder / f"{name}.log")
            process.start()
            processes.append(process)
        yield host, envs
    finally:
        for process in reversed(processes):
            process.stop()


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}


def _healthcheck_argv(test: list[str], host: Host) -> list[str]:
    assert test[0] == "CMD", test
    argv = [host(part) for part in test[1:]]
    if argv[0] == "burstlab":
        argv = [sys.executable, "-m", "burstlab", *argv[1:]]
    return argv


def _wait_healthy(argv: list[str], env: dict[str, str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        proc = subprocess.run(argv, capture_output=True, text=True, env={**_base_env(), **env},
                              check=False, timeout=30)  # fmt: skip
        if proc.returncode == 0:
            return
        assert time.monotonic() < deadline, f"{argv} kept failing: {proc.stderr}"
        time.sleep(0.5)


@pytest.mark.slow
def test_the_app_services_started_with_the_compose_command_lines_pass_their_healthchecks(
    compose: dict[str, Any], running: tuple[Host, dict[str, dict[str, str]]]
) -> None:
    host, envs = running
    for name in ("baseline", "worker", "producer"):
        test = compose["services"][name]["healthcheck"]["test"]
        _wait_healthy(_healthcheck_argv(test, host), envs[name])


@pytest.mark.slow
def test_jobs_run_in_both_modes_through_the_compose_configured_services(
    compose: dict[str, Any], running: tuple[Host, dict[str, dict[str, str]]]
) -> None:
    host, envs = running
    _wait_healthy(_healthcheck_argv(compose["services"]["producer"]["healthcheck"]["test"], host),
                  envs["producer"])  # fmt: skip
    url = f"http://127.0.0.1:{host.ports[8080]}"
    producer = Producer(url, timeout_s=10)
    for mode in ("sync", "async"):
        reply = producer.run(mode, "io", 10, timeout_s=10)
        assert reply["status"] == "succeeded", reply
    # And the worker and baseline serve metrics where compose's Prometheus looks for them
    for port in (9540, 9541):
        with urllib.request.urlopen(f"http://127.0.0.1:{host.ports[port]}/metrics", timeout=5) as r:
            assert r.status == 200


@pytest.mark.slow
def test_the_loadgen_command_runs_an_experiment_against_the_producer(
    compose: dict[str, Any], running: tuple[Host, dict[str, dict[str, str]]], tmp_path: Path
) -> None:
    host, envs = running
    _wait_healthy(_healthcheck_argv(compose["services"]["producer"]["healthcheck"]["test"], host),
                  envs["producer"])  # fmt: skip
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    loadgen = compose["services"]["loadgen"]
    assert loadgen["profiles"] == ["loadgen"]
    variables = {"REDIS_PASSWORD": PASSWORD, "SCENARIO": str(scenario)}
    args = [host(interpolate(str(part), variables)) for part in loadgen["command"]]
    proc = subprocess.run(
        [sys.executable, "-m", "burstlab", *args], cwd=tmp_path, capture_output=True,
        text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summaries = list((tmp_path / "results").glob("*-compose-tiny/summary.json"))
    assert len(summaries) == 1
    runs = json.loads(summaries[0].read_text())["runs"]
    assert [(r["mode"], r["completed"]) for r in runs] == [("sync", 10), ("async", 10)]
