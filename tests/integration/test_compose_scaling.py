"""``burstlab run --compose`` scales the compose worker service between runs (stand-in docker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from burstlab.stack.local import LocalStack

FAKE_DOCKER = textwrap.dedent(
    """\
    #!{python}
    # A stand-in for the docker CLI: records each call, and reports as many healthy worker
    # replicas as the last `--scale worker=N` asked for.
    import json, os, sys
    here = os.path.dirname(os.path.abspath(__file__))
    args = sys.argv[1:]
    with open(os.path.join(here, "calls.jsonl"), "a") as log:
        log.write(json.dumps({{"args": args,
                              "BASELINE_WORKERS": os.environ.get("BASELINE_WORKERS")}}) + "\\n")
    state = os.path.join(here, "replicas")
    if "--scale" in args:
        n = int(args[args.index("--scale") + 1].split("=")[1])
        open(state, "w").write(str(n))
    if "ps" in args:
        n = int(open(state).read()) if os.path.exists(state) else 0
        for i in range(n):
            print(json.dumps({{"Name": f"burstlab-worker-{{i + 1}}", "Service": "worker",
                              "State": "running", "Health": "healthy"}}))
    """
)

TINY = """\
name = "tiny"
[[job]]
kind = "io"
duration_ms = 20
[arrival]
pattern = "burst"
size = 8
at_s = 0.1
duration_s = 0.2
[thresholds]
max_lost = 0
"""


@pytest.mark.slow
def test_run_compose_scales_workers_and_the_baseline_to_each_count_and_records_replicas(
    stack: LocalStack, tmp_path: Path
) -> None:
    # Given a stand-in docker on PATH and a running producer to drive
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(0o755)
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    # When `burstlab run --compose --workers 1,2,4` runs
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "burstlab",
            "run",
            str(scenario),
            "--compose",
            "--target",
            stack.producer_url,
            "--workers",
            "1,2,4",
            "--modes",
            "async",
            "--out",
            str(tmp_path / "out"),
            "--no-live",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = [json.loads(line) for line in (bin_dir / "calls.jsonl").read_text().splitlines()]
    ups = [c for c in calls if "up" in c["args"]]
    # Then for each count it scaled the worker service and recreated the baseline with N workers
    expected = []
    for n in (1, 2, 4):
        expected.append(
            (
                [
                    "compose",
                    "-f",
                    "docker-compose.yml",
                    "up",
                    "-d",
                    "--no-deps",
                    "--scale",
                    f"worker={n}",
                    "worker",
                ],
                str(n),
            )
        )
        expected.append(
            (
                [
                    "compose",
                    "-f",
                    "docker-compose.yml",
                    "up",
                    "-d",
                    "--no-deps",
                    "--force-recreate",
                    "baseline",
                ],
                str(n),
            )
        )
    assert [(c["args"], c["BASELINE_WORKERS"]) for c in ups] == expected
    # And it waited for the replicas, and recorded how many really ran
    assert any(c["args"][-4:] == ["ps", "--format", "json", "worker"] for c in calls)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [(r["workers"], r["replicas"]) for r in summary["runs"]] == [(1, 1), (2, 2), (4, 4)]
