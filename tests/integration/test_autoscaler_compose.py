"""The compose replica target scales the worker service with
``docker compose up -d --no-recreate --scale worker=N`` (against a stand-in docker)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from burstlab.autoscale import AutoscalePolicy
from burstlab.autoscale.compose_replicas import ComposeWorkerReplicas
from burstlab.autoscale.scaler import Autoscaler, Reading
from burstlab.compose.client import COMPOSE_ENV, ComposeError

FAKE_DOCKER = textwrap.dedent(
    """\
    #!{python}
    # A stand-in for the docker CLI: records each call and reports as many running worker
    # containers as the last `--scale worker=N` asked for.
    import json, os, sys
    here = os.path.dirname(os.path.abspath(__file__))
    args = sys.argv[1:]
    with open(os.path.join(here, "calls.jsonl"), "a") as log:
        log.write(json.dumps(args) + "\\n")
    if os.environ.get("FAKE_DOCKER_FAIL"):
        sys.stderr.write("no such service\\n")
        sys.exit(1)
    state = os.path.join(here, "replicas")
    if "--scale" in args:
        open(state, "w").write(args[args.index("--scale") + 1].split("=")[1])
    if "ps" in args:
        n = int(open(state).read()) if os.path.exists(state) else 1
        for i in range(n):
            print(json.dumps({{"Service": "worker", "State": "running", "Health": "healthy"}}))
    """
)


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "docker"
    path.write_text(FAKE_DOCKER.format(python=sys.executable))
    path.chmod(0o755)
    # Named outright, as a user names their Compose: burstlab runs it without asking which
    # form this machine has.
    monkeypatch.setenv(COMPOSE_ENV, f"{path} compose")
    return path


def _calls(fake_docker: Path) -> list[list[str]]:
    lines = (fake_docker.parent / "calls.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_the_autoscaler_scales_the_compose_worker_service_without_recreating_it(
    fake_docker: Path,
) -> None:
    # Given a compose worker service at one replica and a backlog of 50 jobs
    policy = AutoscalePolicy(min_replicas=1, max_replicas=5, target_backlog_per_replica=10,
                             polling_interval_s=1, scale_up_max_step=10)  # fmt: skip
    replicas = ComposeWorkerReplicas(Path("compose.yml"), docker=str(fake_docker), project="lab")
    backlog = [50.0]
    scaler = Autoscaler(policy, lambda: Reading(backlog[0], backlog[0]), replicas)
    # When the scaler polls
    point = scaler.poll()
    # Then it ran `up --no-recreate --scale worker=5` and compose reports 5 running replicas
    assert point is not None and (point.desired, point.requested, point.ready) == (5, 5, 5)
    assert _calls(fake_docker)[0] == [
        "compose", "-f", "compose.yml", "-p", "lab",
        "up", "-d", "--no-deps", "--no-recreate", "--scale", "worker=5", "worker",
    ]  # fmt: skip
    # And a poll that changes nothing runs no `up`
    scaler.poll()
    assert sum("up" in call for call in _calls(fake_docker)) == 1


def test_a_failing_compose_command_is_reported_with_its_message(
    fake_docker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(os.environ, "FAKE_DOCKER_FAIL", "1")
    replicas = ComposeWorkerReplicas(Path("compose.yml"), docker=str(fake_docker))
    with pytest.raises(ComposeError, match="no such service"):
        replicas.scale(3)
