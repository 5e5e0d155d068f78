"""The compose stack run for real on Redis: built, brought up with 3 worker replicas, scaled by
``burstlab run --compose``, loaded by the loadgen profile, a worker crashed and Redis killed
mid-burst, then removed with ``down -v``. The tests run in file order on one stack."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from compose_stack import SERVICES, Stack, crash_mid_burst, submit_async, wait_all_ended

from burstlab.client import ProducerError
from burstlab.compose.envfile import set_values

pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]

# A burst small enough for the suite's time, long enough that 4 workers beat 1 by far.
SCENARIO = """\
name = "compose-burst"
description = "48 I/O jobs of 100 ms at once: the compose stack scaled to 1, 2 and 4 workers."
seed = 7
workers = [1, 2, 4]
modes = ["sync", "async"]
timeout_s = 30
drain_timeout_s = 60

[[job]]
kind = "io"
duration_ms = 100

[arrival]
pattern = "burst"
size = 48
at_s = 0.5
window_s = 0.05
duration_s = 1.0
"""


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., Stack]) -> Stack:
    made = make_stack("redis")
    made.up(*SERVICES, scale=3)
    return made


def _targets(prometheus_url: str) -> Counter[str]:
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/targets", timeout=5) as reply:
        active = json.load(reply)["data"]["activeTargets"]
    return Counter(t["labels"]["job"] for t in active if t["health"] == "up")


def test_up_with_three_workers_every_service_is_healthy_and_scraped(stack: Stack) -> None:
    # Given the stack brought up with `up -d --wait --scale worker=3` (Grafana aside)
    containers = stack.compose.containers()
    # Then every container runs healthy: 3 workers and one of each other service
    assert Counter(c.service for c in containers) == Counter(
        {"redis": 1, "baseline": 1, "producer": 1, "worker": 3, "prometheus": 1}
    )
    assert [c.name for c in containers if not c.ready] == []
    # And the producer is ready, with both of its dependencies checked
    ready = stack.producer.request("GET", "/readyz")
    assert ready == {"status": "ready", "checks": {"broker": "ok", "baseline": "ok"}}
    # And Prometheus scrapes every replica through Docker's DNS (it re-resolves every 15 s)
    deadline = time.monotonic() + 90
    while (up := _targets(stack.prometheus_url)) != Counter(
        {"worker": 3, "producer": 1, "baseline": 1, "prometheus": 1}
    ):
        assert time.monotonic() < deadline, f"targets up: {dict(up)}"
        time.sleep(2)


def test_run_compose_scales_workers_and_baseline_and_throughput_grows(
    stack: Stack, tmp_path: Path
) -> None:
    # Given the stack and a burst scenario
    scenario = tmp_path / "burst.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    # When `burstlab run --compose --workers 1,2,4` drives it (the project and env file named the
    # way compose reads them: COMPOSE_PROJECT_NAME, COMPOSE_ENV_FILES)
    proc = subprocess.run(
        [sys.executable, "-m", "burstlab", "run", str(scenario), "--compose",
         "--compose-file", str(stack.compose.file), "--target", stack.producer_url,
         "--workers", "1,2,4", "--out", str(out), "--no-live"],
        capture_output=True, text=True, env=stack.cli_env(), timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = json.loads((out / "summary.json").read_text())["runs"]
    # Then each count ran on as many replicas, and compose scaled the baseline's workers with it
    assert [(r["mode"], r["workers"], r["replicas"]) for r in runs] == [
        (mode, n, n) for n in (1, 2, 4) for mode in ("sync", "async")
    ]
    baseline = stack.inspect(stack.container_id("baseline"))
    assert "BASELINE_WORKERS=4" in baseline["Config"]["Env"]  # type: ignore[index]
    # And every job ran, each drain beside its prediction (a generous band: the exact figures are
    # the benchmark's), and the drain shrinks as replicas are added, on both sides
    for run in runs:
        assert (run["completed"], run["lost"]) == (48, 0), run["mode"]
        check = run["theory"]["checks"]["drain_s"]
        assert abs(check["deviation"]) < 0.5, (run["mode"], run["workers"], check)
    for mode in ("sync", "async"):
        drain = {r["workers"]: r["drain_s"] for r in runs if r["mode"] == mode}
        assert drain[4] < drain[2] < drain[1], (mode, drain)
        assert drain[1] / drain[4] > 2.0, (mode, drain)


def test_the_loadgen_profile_runs_the_default_burst_and_its_results_copy_out(
    stack: Stack, tmp_path: Path
) -> None:
    # Given the stack at 4 workers a side (the last run's count), kept in .env as the docs say
    assert stack.compose.env_file is not None
    set_values(stack.compose.env_file,
               {"WORKER_REPLICAS": "4", "BASELINE_WORKERS": "4", "LOADGEN_WORKERS": "4"})  # fmt: skip
    baseline = stack.inspect(stack.container_id("baseline"))["Id"]
    # When the loadgen fires the default burst from inside the stack, as docs/compose.md shows
    fired = stack.docker_compose("--profile", "loadgen", "run", "--rm", "loadgen")
    # And its results are copied out of the `results` volume as docs/compose.md shows
    copied = tmp_path / "results"
    copied.mkdir()
    tar = stack.docker_compose(
        "--profile", "loadgen", "run", "--rm", "--no-deps", "-T", "--entrypoint", "tar", "loadgen",
        "-C", "/app/results", "-cf", "-", ".",
    )  # fmt: skip
    assert tar.returncode == 0, tar.stderr[-2000:]
    subprocess.run(["tar", "-xf", "-", "-C", str(copied)], input=tar.stdout, check=True)
    summaries = sorted(copied.glob("*-burst/summary.json"))
    assert len(summaries) == 1, (fired.stdout[-3000:], fired.stderr[-3000:])
    summary = json.loads(summaries[0].read_text())
    # Then both sides ran the whole burst with nothing lost
    assert [(r["mode"], r["workers"]) for r in summary["runs"]] == [("sync", 4), ("async", 4)]
    for run in summary["runs"]:
        assert run["lost"] == 0 and run["completed"] == run["offered"] > 200, run["mode"]
        # on the stack as it was: the baseline not brought back to another count (a drain far
        # off its prediction), the same container before and after
        check = run["theory"]["checks"]["drain_s"]
        assert abs(check["deviation"]) < 0.5, (run["mode"], check)
    assert stack.inspect(stack.container_id("baseline"))["Id"] == baseline
    # And the loadgen's exit status is its thresholds' verdict (timing ones may miss on a busy
    # machine; losing a job may not)
    failed = [t["name"] for t in summary["thresholds"] if t["passed"] is False]
    assert "max_lost" not in failed
    assert (fired.returncode == 0) == (not failed), fired.stdout[-2000:]


def test_a_worker_crashed_mid_burst_loses_nothing_and_comes_back_consuming(stack: Stack) -> None:
    # Given a burst of async jobs spread over the 4 worker replicas
    # When one replica's processes are SIGKILLed while they run jobs of it
    crash = crash_mid_burst(stack, index=2, jobs=160, later=40)
    # Then every accepted job succeeds (the crashed replica's ones redelivered after the
    # visibility timeout)
    assert crash.statuses == {"succeeded": 160}
    # And the replica came back once by its restart policy, and jobs sent now run on it too
    assert crash.restarts == 1
    assert crash.ran_on_it_after > 0


def test_redis_killed_and_restarted_answers_503_meanwhile_and_loses_no_accepted_job(
    stack: Stack,
) -> None:
    # Given async jobs accepted into the queue
    producer = stack.producer
    accepted = submit_async(producer, 80, 100)
    # When the Redis container is killed (SIGKILL, as a crash) and kept down a while
    stack.compose.run(["kill", "-s", "KILL", "redis"])
    # Then the producer answers JSON 503s, never anything else, while it is down
    refusals: list[tuple[int, str, str]] = []
    for _ in range(5):
        try:
            producer.submit("async", "io", 100)
        except ProducerError as exc:
            refusals.append((exc.status, exc.error, exc.detail))
        time.sleep(0.5)
    assert refusals and {status for status, _, _ in refusals} == {503}, refusals
    # (each saying what went wrong, even where the driver's exception carried no message)
    assert all(detail and not detail.endswith(": ") for _, _, detail in refusals), refusals
    # When it is started again (its append-only file on its volume)
    stack.compose.run(["start", "redis"])
    stack.wait_healthy(stack.container_id("redis"))
    # Then the producer accepts again once it is back
    deadline = time.monotonic() + 60
    while True:
        try:
            later = submit_async(producer, 20, 100)
            break
        except ProducerError:
            assert time.monotonic() < deadline, "the producer never accepted again"
            time.sleep(1)
    # And every job accepted before the kill, and after, succeeds
    jobs = wait_all_ended(producer, accepted + later, timeout_s=120)
    assert Counter(j.get("status") for j in jobs.values()) == Counter({"succeeded": 100})


def test_down_removes_every_container_network_and_volume(stack: Stack) -> None:
    # When the stack is taken down with its volumes
    stack.down()
    # Then nothing of the project is left on the engine
    assert stack.left_behind() == {"containers": [], "networks": [], "volumes": []}
