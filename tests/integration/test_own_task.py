"""``burstlab run --app/--task/--payloads`` on a Celery project of the user's, outside the repo.

The project below has its own module, app, queue and JSON settings, and one task whose service
time varies with its payload; some payloads make it raise, retry once or exceed its soft time
limit. burstlab must run it on both sides (the baseline calls the function, workers of the
user's app run it from the queue), count each outcome as what it was, predict the drain from
the service time it measured, and leave the project's files byte for byte as they were.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from burstlab.experiments.loadgen.probe import LOAD_ROUNDS

APP = '''\
"""A shop's image service (stands in for a real project: burstlab must not need to edit it)."""

import time

from celery import Celery

app = Celery("shop")
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_routes={"shop.resize": {"queue": "thumbnails"}},
    task_acks_late=True,
    worker_prefetch_multiplier=1,
)


@app.task(name="shop.resize", bind=True, soft_time_limit=0.3, max_retries=1)
def resize(self, image_id, ms, mode="ok"):
    if mode == "raise":
        raise ValueError(f"image {image_id} is not an image")
    if mode == "retry" and self.request.retries == 0:
        raise self.retry(countdown=0)
    time.sleep(ms / 1000 if mode != "slow" else 2.0)
    return {"image_id": image_id, "width": 128}
'''

# Eight lines: the 40 probe jobs and the 24-job burst are whole cycles, so each run's jobs are
# three of each line.
PAYLOADS = [
    {"args": [1, 20], "kwargs": {}},
    {"args": [2, 60], "kwargs": {}},
    {"args": [3], "kwargs": {"ms": 30}},
    {"args": [4, 90], "kwargs": {}},
    {"args": [5, 40], "kwargs": {"mode": "raise"}},
    {"args": [6, 30], "kwargs": {"mode": "retry"}},
    {"args": [7, 50], "kwargs": {"mode": "slow"}},
    {"args": [8, 25], "kwargs": {}},
]
SCENARIO = """\
name = "own-task-burst"
workers = [2]
modes = ["sync", "async"]
timeout_s = 60
drain_timeout_s = 60

[[job]]
kind = "io"
duration_ms = 1

[arrival]
pattern = "burst"
size = 24
at_s = 0.5
window_s = 0.0
base_rate = 0.0
duration_s = 1.0
"""

AUTOSCALE = """\
name = "own-task-autoscale"
workers = [1]
modes = ["async"]
timeout_s = 60
drain_timeout_s = 60

[[job]]
kind = "io"
duration_ms = 1

[arrival]
pattern = "burst"
size = 72
at_s = 1.0
window_s = 0.5
base_rate = 2.0
duration_s = 6.0

[autoscale]
min_replicas = 1
max_replicas = 3
target_backlog_per_replica = 4
activation_backlog = 0
polling_interval_s = 0.5
scale_up_stabilization_s = 0
scale_down_stabilization_s = 2
scale_up_max_step = 2
scale_down_max_step = 2
step_period_s = 1
replica_concurrency = 1
replica_start_delay_s = 0.5
metric = "queued"
"""
STEADY = [p for p in PAYLOADS if p["kwargs"].get("mode") != "slow"]
"""The payloads without the one that sleeps 2 s: seven lines, one of them raising."""
TASK_FLAGS = ("--app", "shop_tasks:app", "--task", "shop.resize")


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _project(root: Path) -> Path:
    project = root / "shop"
    project.mkdir()
    (project / "shop_tasks.py").write_text(APP)
    (project / "payloads.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PAYLOADS))
    (project / "steady.jsonl").write_text("".join(json.dumps(p) + "\n" for p in STEADY))
    (project / "burst.toml").write_text(SCENARIO)
    (project / "autoscale.toml").write_text(AUTOSCALE)
    return project


def _run(
    project: Path,
    *args: str,
    scenario: str = "burst.toml",
    timeout: float = 400,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "burstlab", "run", scenario, "--no-live", *args]
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def _runs_of(
    project: Path, out: Path, scenario: str, *args: str, key: str = "mode"
) -> dict[str, dict[str, Any]]:
    """Run ``scenario`` on the project's task with the steady payloads; its runs by ``key``."""
    flags = (*TASK_FLAGS, "--payloads", "steady.jsonl", "--out", str(out))
    proc = _run(project, *flags, *args, scenario=scenario)
    assert (out / "summary.json").exists(), proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    return {run[key]: run for run in summary["runs"]}


def _fault(project: Path, scenario: str, *args: str) -> tuple[int, int, int, str]:
    """``burstlab faults SCENARIO`` on the project's task with the steady payloads: accepted,
    ended and lost jobs from its table row, and its whole output; it must exit 0 (none lost)."""
    proc = subprocess.run(
        [sys.executable, "-m", "burstlab", "faults", scenario, *TASK_FLAGS,
         "--payloads", "steady.jsonl", *args],
        cwd=project, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith(f"{scenario} "))
    accepted, completed, lost = (int(cell.replace(",", "")) for cell in row.split()[1:4])
    return accepted, completed, lost, proc.stdout


@pytest.mark.slow
def test_a_users_own_celery_task_is_measured_on_both_sides_without_touching_its_files(
    tmp_path: Path,
) -> None:
    # Given a Celery project of the user's, outside the repository
    project = _project(tmp_path)
    before = _fingerprint(project)
    out = tmp_path / "out"
    # When burstlab runs a burst on its task
    proc = _run(
        project,
        *("--app", "shop_tasks:app", "--task", "shop.resize"),
        *("--payloads", "payloads.jsonl", "--out", str(out)),
    )
    assert (out / "summary.json").exists(), proc.stdout + proc.stderr
    # Then it said what it overrides in the app's workers, and why
    assert "burstlab sets broker_url" in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    target = summary["task_target"]
    assert target["queue"] == "thumbnails" and target["payload_lines"] == 8
    runs = {run["mode"]: run for run in summary["runs"]}
    sync, queued = runs["sync"], runs["async"]
    # and every job ended as what it was: nothing lost, failures counted as failures
    for run in (sync, queued):
        assert run["offered"] == 24 and run["lost"] == 0 and run["errors"] == 0, run
    # (async: 3 raised, 3 hit the soft time limit; the retried ones succeeded on their retry)
    assert queued["failed"] == 6 and queued["timed_out"] == 3, queued
    assert queued["retried"] == 3 and queued["completed"] == 18, queued
    # (a retry is a run the task asked for, not a second delivery)
    assert queued["duplicated"] == 0, queued
    # (sync calls the function directly: a retry is a raise there, and no time limit applies)
    assert sync["failed"] == 6 and sync["timed_out"] == 0 and sync["completed"] == 18, sync
    # and the service time it measured varies from job to job, as the task's does
    distribution = queued["probe"]["distribution"]
    assert distribution["count"] == 40 and distribution["cv"] > 0.3, distribution
    assert queued["service_measured"]["count"] == 24
    # and the drain sits near the prediction made from that measured distribution
    predicted = queued["theory"]["predicted"]["burst_drain_s"]
    assert predicted and queued["theory"]["inputs"]["service_model"] == "measured"
    assert 0.5 * predicted < queued["drain_s"] < 1.5 * predicted, (queued["drain_s"], predicted)
    # and both sides are replayed from one distribution, the two probes of the same 40 lines
    # pooled, but for the probes that ended otherwise on each side (the soft time limit cut on
    # the workers only, a retry that is a raise on the sync side): each side keeps its own of
    # those; each its own hand-over; the drain near the replayed prediction
    services = [run["prediction"]["inputs"]["service"] for run in (sync, queued)]
    assert [len(service["run_s"]) for service in services] == [80, 80]
    own = [run["prediction"]["own_run_s"] for run in (sync, queued)]
    # (sync ran the slow payload for its 2 s; the workers cut it at the soft limit)
    assert len(own[0]) == len(own[1]) > 0 and max(own[0]) > 1.0 > max(own[1]), own
    common = [sorted(set(s["run_s"]) - set(o)) for s, o in zip(services, own, strict=True)]
    assert common[0] == common[1]
    assert services[0]["overhead_s"] != services[1]["overhead_s"]
    assert sync["shared_distribution"] == queued["shared_distribution"]
    assert sync["shared_distribution"]["count"] == 80 - 2 * len(own[0])
    drain = queued["prediction"]["checks"]["drain_s"]
    assert drain["low"] <= drain["predicted"] <= drain["high"]
    assert 0.5 * drain["predicted"] < drain["measured"] < 1.5 * drain["predicted"], drain
    # and the report shows the task, the overrides and the outcomes
    report = (out / "report.md").read_text()
    for heading in ("Your task", "What burstlab set", "Measured service time", "How your task"):
        assert heading in report
    assert report.count("probes, sync and async pooled: what both predictions draw from") == 1
    # and the user's project is byte for byte as it was (no file added, none changed)
    assert _fingerprint(project) == before


@pytest.mark.slow
def test_a_sweep_of_the_users_task_reads_its_slo_capacity_off_the_measured_steps(
    tmp_path: Path,
) -> None:
    # Given the project, and the shipped sweep-io cut to one worker and two steps of 4 s
    project = _project(tmp_path)
    before = _fingerprint(project)
    out = tmp_path / "out"
    # When burstlab sweeps its task
    runs = _runs_of(project, out, "sweep-io", "--workers", "1", "--rho", "0.3,0.9", "--step-s", "4")
    assert set(runs) == {"sync", "async"}
    for mode, run in runs.items():
        # Then each mode's rates were set from the service time it measured on the task
        distribution = run["probe"]["distribution"]
        assert distribution["count"] == 40 and distribution["cv"] > 0.2, (mode, distribution)
        service_s = run["probe"]["theory_service_s"]
        assert service_s == pytest.approx(run["probe"]["service_s"])
        steps = run["steps"]
        assert [s["rho"] for s in steps] == [0.3, 0.9]
        for step in steps:
            assert step["planned_rate_per_s"] == pytest.approx(step["rho"] / service_s)
            # (each step is predicted with the step's own measured variability)
            assert step["predicted"]["mean_ms"] is not None, (mode, step)
            # and the raising payload's jobs are failures, not completions and not lost
            assert step["failed"] > 0 and step["lost"] == 0, (mode, step)
        # and the SLO capacity is read off its steps: positive exactly when the lowest met it
        capacity = run["capacity"]
        met = steps[0]["latency_ms"]["p99"] <= capacity["slo_p99_ms"]
        assert (capacity["slo_capacity_per_s"] is not None) is met, (mode, capacity, steps[0])
    assert "Measured service time" in (out / "report.md").read_text()
    assert _fingerprint(project) == before


@pytest.mark.slow
def test_an_autoscaled_burst_of_the_users_task_scales_its_workers_and_loses_nothing(
    tmp_path: Path,
) -> None:
    # Given the project, and an autoscale scenario of its own: 72 jobs in 0.5 s, about 3 s of
    # work for one process
    project = _project(tmp_path)
    before = _fingerprint(project)
    out = tmp_path / "out"
    # When burstlab runs it on the task: fixed at the minimum, at the maximum, and autoscaled
    runs = _runs_of(project, out, "autoscale.toml", key="policy")
    assert set(runs) == {"fixed-min", "fixed-max", "autoscale"}
    for policy, run in runs.items():
        # Then every job of every run ended as what it was: the raising ones failed, none lost
        assert run["lost"] == 0 and run["failed"] > 0, (policy, run)
        assert run["completed"] + run["failed"] == run["offered"], (policy, run)
        # and the fluid model predicted it from the service time measured on the task
        assert run["prediction"]["service_s"] == pytest.approx(run["probe"]["service_s"])
        # and a job the task retried ran twice by its own request, not by a redelivery (a fixed
        # pool removes no replica, so none of its jobs ran twice)
        assert run["retried"] > 0, (policy, run)
        if policy != "autoscale":
            assert run["autoscale"]["ran_again"] == 0, (policy, run["autoscale"])
    assert runs["fixed-max"]["autoscale"]["peak_replicas"] == 3
    scaled = runs["autoscale"]["autoscale"]
    assert scaled["peak_replicas"] > 1 and scaled["first_scale_up_s"] is not None, scaled
    # (more workers drain the same burst sooner)
    drains = {policy: run["autoscale"]["drain_s"] for policy, run in runs.items()}
    assert drains["fixed-max"] < drains["fixed-min"], drains
    assert "How your task" in (out / "report.md").read_text()
    assert _fingerprint(project) == before


@pytest.mark.slow
def test_a_killed_pool_process_of_the_users_app_ends_its_job_and_loses_none(
    tmp_path: Path,
) -> None:
    # Given the project, whose settings (acks late, task_reject_on_worker_lost off) decide
    # what happens to a job whose process dies
    project = _project(tmp_path)
    before = _fingerprint(project)
    # When `burstlab faults` kills one of the two pool processes of its worker mid-burst
    accepted, completed, lost, out = _fault(project, "worker-child-kill")
    # Then every accepted job ended (none lost: the command exits 0), the raising payload's
    # and the interrupted one's as failures
    assert accepted == 220 and completed == accepted and lost == 0, out
    notes = out.split("worker-child-kill: ", 1)[1]
    assert "task shop.resize" in notes, notes
    failed = int(notes.split(", failed ", 1)[1].split(",")[0].split()[0])
    # (31 of the 220 jobs take the raising line; the kill may fail one more)
    assert 31 <= failed <= 32, notes
    assert _fingerprint(project) == before


@pytest.mark.slow
def test_a_killed_worker_of_the_users_app_on_rabbitmq_has_its_jobs_run_again(
    tmp_path: Path,
) -> None:
    # Given the project (acks late) with its jobs on a private RabbitMQ node
    project = _project(tmp_path)
    # When `burstlab faults` kills its whole worker mid-burst
    accepted, completed, lost, out = _fault(project, "worker-kill", "--broker", "rabbitmq")
    # Then none is lost: the jobs it held came back when its connection closed and ran again
    assert accepted == 220 and completed == accepted and lost == 0, out
    assert "broker rabbitmq" in out and "task shop.resize" in out


@pytest.mark.slow
def test_a_killed_worker_of_the_users_app_on_redis_has_its_jobs_back_after_its_timeout(
    tmp_path: Path,
) -> None:
    # Given the project with a short visibility timeout and restore sweep of its own
    project = _project(tmp_path)
    options = (
        '{"visibility_timeout": 6, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}'
    )
    (project / "shop_tasks.py").write_text(
        APP.replace(
            "worker_prefetch_multiplier=1,",
            f"worker_prefetch_multiplier=1,\n    broker_transport_options={options},",
        )
    )
    # When `burstlab faults` kills its whole worker mid-burst on Redis
    accepted, completed, lost, out = _fault(project, "worker-kill")
    # Then kombu's own restore, on the app's settings, brought its held jobs back: none lost
    assert accepted == 220 and completed == accepted and lost == 0, out
    assert "visibility timeout s 6, restore sweep every s 1" in out, out


def test_faults_that_cannot_run_on_a_users_task_are_refused_saying_why(tmp_path: Path) -> None:
    project = _project(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "burstlab", "faults", "overload-sync", *TASK_FLAGS,
         "--payloads", "steady.jsonl"],
        cwd=project, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "overload-sync: runs burstlab's own job" in proc.stderr
    assert "worker-child-kill, worker-kill" in proc.stderr
    # and a whole-worker kill on Redis whose jobs would come back only after the app's
    # visibility timeout (kombu's default, an hour) is refused, saying what to change
    proc = subprocess.run(
        [sys.executable, "-m", "burstlab", "faults", "worker-kill", *TASK_FLAGS,
         "--payloads", "steady.jsonl"],
        cwd=project, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "visibility timeout (3600 s)" in proc.stderr and "--broker rabbitmq" in proc.stderr


def test_a_bad_payload_line_is_refused_before_anything_starts(tmp_path: Path) -> None:
    project = _project(tmp_path)
    lines = (project / "payloads.jsonl").read_text().splitlines()
    lines[2] = '{"args": 3}'
    (project / "payloads.jsonl").write_text("\n".join(lines) + "\n")
    proc = _run(
        project,
        *("--app", "shop_tasks:app", "--task", "shop.resize", "--payloads", "payloads.jsonl"),
        timeout=60,
    )
    assert proc.returncode != 0
    assert "payloads.jsonl line 3" in proc.stderr and "'args' must be an array" in proc.stderr
    assert not (project / "results").exists()


def test_an_unknown_task_is_refused_with_the_apps_tasks_listed(tmp_path: Path) -> None:
    project = _project(tmp_path)
    proc = _run(
        project,
        *("--app", "shop_tasks:app", "--task", "shop.crop", "--payloads", "payloads.jsonl"),
        timeout=60,
    )
    assert proc.returncode != 0
    assert "--task shop.crop" in proc.stderr and "shop.resize" in proc.stderr


class _Endpoint(BaseHTTPRequestHandler):
    """The user's own blocking endpoint: 20 ms per call, HTTP 500 when the call raises."""

    calls: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        call = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(call)
        time.sleep(0.02)
        failed = call.get("kwargs", {}).get("mode") == "raise"
        self.send_response(500 if failed else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: object) -> None:
        pass


@pytest.mark.slow
def test_the_sync_side_can_be_the_users_own_blocking_endpoint(tmp_path: Path) -> None:
    # Given the project and a blocking HTTP endpoint of the user's that answers 500 on a raise
    project = _project(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/render"
    out = tmp_path / "out"
    try:
        # When burstlab runs the sync side against it
        proc = _run(
            project,
            *("--app", "shop_tasks:app", "--task", "shop.resize", "--payloads", "payloads.jsonl"),
            *("--sync-url", url, "--modes", "sync", "--out", str(out)),
        )
    finally:
        server.shutdown()
    assert (out / "summary.json").exists(), proc.stdout + proc.stderr
    # Then every payload was posted to it (the warm-up's 2 per server on 2 servers, 40
    # sequential probes over the file, the load probe's rounds of 4 per server, 24 in the
    # burst) and its 500s are failures
    assert len(_Endpoint.calls) == 2 * 2 + 40 + LOAD_ROUNDS * 4 * 2 + 24
    assert _Endpoint.calls[0] == PAYLOADS[0]
    run = json.loads((out / "summary.json").read_text())["runs"][0]
    assert run["offered"] == 24 and run["failed"] == 3 and run["completed"] == 21, run


@contextlib.contextmanager
def _worker(project: Path, env: dict[str, str], *extra: str) -> Iterator[None]:
    """The project's own worker, started by hand as its users do (2 processes)."""
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "shop_tasks:app", "worker", *extra),
            *("-Q", "thumbnails", "-c", "2", "--loglevel=WARNING", "--without-gossip"),
        ],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_worker(project, env)
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def _wait_for_worker(project: Path, env: dict[str, str]) -> None:
    for _ in range(60):
        ping = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "shop_tasks:app", "inspect", "ping"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if ping.returncode == 0 and "pong" in ping.stdout:
            return
        time.sleep(1)
    raise AssertionError("the hand-started worker never answered a ping")


@pytest.mark.slow
def test_a_running_deployment_is_measured_from_its_events_and_refused_without_them(
    tmp_path: Path, redis_url: str
) -> None:
    # Given the project deployed: its app on its own broker, named by the environment as many
    # deployments do (CELERY_BROKER_URL), a worker started by hand without -E
    project = _project(tmp_path)
    broker = redis_url.rsplit("/", 1)[0] + "/7"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CELERY_BROKER_URL": broker}
    flags = ("--app", "shop_tasks:app", "--task", "shop.resize", "--payloads", "payloads.jsonl")
    out = tmp_path / "out"
    with _worker(project, env):
        before = _fingerprint(project)
        # When burstlab is asked to measure it while the worker sends no events
        refused = _run(project, *flags, "--external", "--modes", "async", timeout=60, env=env)
    # Then it refuses and says how to turn them on
    assert refused.returncode != 0
    assert "events are off" in refused.stderr and "worker -E" in refused.stderr
    # When the worker is started again as it says (-E) and the run repeated
    with _worker(project, env, "-E"):
        proc = _run(project, *flags, "--external", "--modes", "async", "--out", str(out), env=env)
    assert (out / "summary.json").exists(), proc.stdout + proc.stderr
    # Then the deployment's own two processes ran every job, each outcome counted from events
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task_target"]["external"]["processes"] == 2
    assert summary["task_target"]["overrides"] == []
    run = summary["runs"][0]
    assert run["workers"] == 2 and run["offered"] == 24 and run["lost"] == 0, run
    assert run["failed"] == 6 and run["timed_out"] == 3 and run["retried"] == 3, run
    assert run["service_measured"]["count"] == 24 and run["queue_wait_ms"]["count"] == 18
    predicted = run["theory"]["predicted"]["burst_drain_s"]
    assert 0.5 * predicted < run["drain_s"] < 1.5 * predicted, (run["drain_s"], predicted)
    # and nothing of the project changed
    assert _fingerprint(project) == before
