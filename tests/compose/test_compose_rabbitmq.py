"""The compose stack's ``rabbitmq`` profile run for real: the node comes up healthy with its
management plugin, the same burst runs through it, a worker crashed mid-burst loses nothing, and
``down -v`` leaves nothing. The tests run in file order on one stack."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from compose_stack import SERVICES, Stack, crash_mid_burst

pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]

PASSWORD = "rabbit-compose-test"


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., Stack]) -> Stack:
    # As docs/compose.md says: the password, BROKER_URL naming the node, the profile
    made = make_stack(
        "rabbitmq",
        profiles=("rabbitmq",),
        RABBITMQ_PASSWORD=PASSWORD,
        BROKER_URL=f"amqp://burstlab:{PASSWORD}@rabbitmq:5672/",
    )
    made.up(*SERVICES, "rabbitmq", scale=2)
    return made


def test_the_rabbitmq_profile_comes_up_healthy_and_the_producer_uses_it(stack: Stack) -> None:
    # Then every container, the node's included, runs healthy
    containers = stack.compose.containers()
    assert Counter(c.service for c in containers)["rabbitmq"] == 1
    assert [c.name for c in containers if not c.ready] == []
    # And the producer's readiness checks the broker it enqueues to
    assert stack.producer.request("GET", "/readyz")["checks"]["broker"] == "ok"
    # And the node's management API answers the producer's queue reading (unacknowledged jobs)
    depth = stack.producer.queue()
    assert depth["queued"] == 0 and depth["reserved"] == 0, depth
    # And both worker replicas consume the queue
    node = stack.container_id("rabbitmq")
    listed = subprocess.run(
        ["docker", "exec", node, "rabbitmqctl", "-q", "list_queues", "name", "consumers"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    consumers = dict(line.split() for line in listed.splitlines() if line.strip())
    assert int(consumers["burstlab"]) == 2, listed


def test_a_burst_runs_through_rabbitmq_with_nothing_lost(stack: Stack, tmp_path: Path) -> None:
    # When the default burst runs against the stack from the host
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "burstlab", "run", "burst", "--target", stack.producer_url,
         "--workers", "2", "--modes", "async", "--out", str(out), "--no-live"],
        capture_output=True, text=True, env=stack.cli_env(), timeout=600, check=False,
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    # Then every job ran, nothing lost, and the drain sits beside its prediction
    (run,) = summary["runs"]
    assert run["lost"] == 0 and run["completed"] == run["offered"] > 200, proc.stdout[-2000:]
    assert abs(run["theory"]["checks"]["drain_s"]["deviation"]) < 0.5


def test_a_worker_crashed_mid_burst_on_rabbitmq_loses_nothing(stack: Stack) -> None:
    # Given a burst of async jobs on both worker replicas
    # When one replica's processes are SIGKILLed while they run jobs
    crash = crash_mid_burst(stack, index=1, jobs=100, later=30)
    # Then every accepted job succeeds (the node requeues what the dead connection held)
    assert crash.statuses == {"succeeded": 100}
    # And the replica came back once by its restart policy and consumes again
    assert crash.restarts == 1
    assert crash.ran_on_it_after > 0


def test_down_removes_the_profile_s_containers_networks_and_volumes(stack: Stack) -> None:
    stack.down()
    assert stack.left_behind() == {"containers": [], "networks": [], "volumes": []}
