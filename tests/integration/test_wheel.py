"""The built wheel works on its own: installed into a fresh venv outside the checkout, it runs
the stack with Prometheus, serves jobs and runs an experiment.

The install is a real one (no editable install, no system site-packages); dependencies come
from pip's cache where it has them. It is the slow part: its duration is printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from burstlab.telemetry.prometheus_api import PrometheusClient

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL_PACKAGES = {"burstlab", "producer", "workers", "sync_baseline"}
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", "*_cache", "results",
    "tests", "benchmarks", "docs",
)  # fmt: skip

TINY = """\
name = "wheel-smoke"
description = "10 io jobs of 20 ms at once"
workers = [2]
modes = ["sync", "async"]
timeout_s = 20
drain_timeout_s = 20

[[job]]
kind = "io"
duration_ms = 20

[arrival]
pattern = "burst"
size = 10
at_s = 0.1
window_s = 0.0
base_rate = 0.0
duration_s = 0.2

[thresholds]
max_lost = 0
"""


def _timed(
    what: str,
    argv: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> str:
    """Run ``argv``, print how long it took, fail on a non-zero exit; return its stdout."""
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    print(f"{what}: {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _build_wheel(tmp_path: Path) -> Path:
    # Built from a copy: setuptools leaves build/ and *.egg-info behind in the source folder.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    dist = tmp_path / "dist"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist)]
    _timed("wheel built", [*pip_wheel, str(source)])
    (wheel,) = dist.glob("burstlab-*.whl")
    return wheel


def _install(wheel: Path, venv: Path) -> dict[str, str]:
    """A fresh venv with the wheel installed; the environment that uses it (not the checkout)."""
    _timed("venv created", [sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    _timed("wheel and dependencies installed", [*pip, str(wheel)])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.status, json.loads(response.read())


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=15) as response:
        return dict(json.loads(response.read()))


@pytest.mark.slow
def test_the_wheel_installed_in_a_fresh_venv_runs_the_stack_jobs_and_an_experiment(
    tmp_path: Path,
) -> None:
    # Given the wheel, built from the checkout
    wheel = _build_wheel(tmp_path)
    # Then it holds exactly the four top-level packages, with the monitoring config and scenarios
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top_level == TOP_LEVEL_PACKAGES
    assert "burstlab/monitoring/prometheus/prometheus.yml" in names
    assert any(n.startswith("burstlab/monitoring/prometheus/rules/") for n in names)
    assert "burstlab/scenario/builtin/burst.toml" in names

    # When it is installed into a fresh venv and used from a folder outside the checkout
    venv = tmp_path / "venv"
    env = _install(wheel, venv)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    python = str(venv / "bin" / "python")
    where = _timed(
        "import check",
        [python, "-c", "import burstlab, producer, workers, sync_baseline\n"
         "from burstlab.dashboards.files import MONITORING_DIR\n"
         "print(burstlab.__file__); print(MONITORING_DIR)"],
        cwd=elsewhere, env=env,
    ).split()  # fmt: skip
    # Then the code and the monitoring config come from the venv, not from the checkout
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    assert len(where) == 2, where
    assert all(Path(path).is_relative_to(site_packages) for path in where), where

    # When `burstlab stack up --prometheus` runs from there
    burstlab = str(venv / "bin" / "burstlab")
    up = [burstlab, "stack", "up", "--port", "0", "--prometheus", "--prometheus-port", "0"]
    started = time.monotonic()
    stack = subprocess.Popen(
        up, cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert stack.stdout is not None
    output = ""
    try:
        while "ready;" not in output:
            line = stack.stdout.readline()
            assert line, output
            output += line
        print(f"stack ready: {time.monotonic() - started:.1f} s")
        producer_url = re.search(r"^producer\s+(\S+)", output, re.M).group(1)  # type: ignore[union-attr]
        prometheus_url = re.search(r"^prometheus\s+(\S+)", output, re.M).group(1)  # type: ignore[union-attr]

        # Then Prometheus scrapes every service and has loaded the shipped rules
        prometheus = PrometheusClient(prometheus_url, timeout_s=5)
        health = {t["labels"]["job"]: t["health"] for t in prometheus.targets()}
        assert health == dict.fromkeys(["producer", "worker", "baseline", "prometheus"], "up")
        assert prometheus.rules()

        # And a sync job and an async job run through the producer
        status, sync_job = _post(
            f"{producer_url}/jobs", {"mode": "sync", "kind": "io", "duration_ms": 10}
        )
        assert status == 200 and sync_job["status"] == "succeeded", sync_job
        status, accepted = _post(
            f"{producer_url}/jobs", {"mode": "async", "kind": "io", "duration_ms": 10}
        )
        assert status == 202, accepted
        async_job = _get(f"{producer_url}/jobs/{accepted['job_id']}?wait=10")
        assert async_job["status"] == "succeeded", async_job

        # And `burstlab run` drives a tiny scenario against it and writes its results
        (elsewhere / "tiny.toml").write_text(TINY)
        run = [burstlab, "run", "tiny.toml", "--target", producer_url, "--workers", "2"]
        _timed(
            "burstlab run", [*run, "--out", "out", "--no-live"], cwd=elsewhere, env=env, timeout=120
        )
        summary = json.loads((elsewhere / "out" / "summary.json").read_text())
        assert summary["passed"] is True, summary
        assert [r["completed"] for r in summary["runs"]] == [10, 10], summary
        assert (elsewhere / "out" / "jobs.csv").read_text().count("\n") >= 1 + 2 * 10
    finally:
        stack.send_signal(signal.SIGTERM)
        rest, _ = stack.communicate(timeout=30)
    assert stack.returncode == 0, output + rest
