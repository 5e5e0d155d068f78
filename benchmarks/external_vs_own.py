"""Benchmark: ``--external`` beside burstlab's own workers, one project, one burst.

The example project (``examples/reports``) is measured two ways on the same seeded ``burst``
scenario (200 jobs in 0.2 s over a trickle), async only, with the same number of worker
processes:

- ``own``: ``burstlab run burst --workers W``; burstlab starts workers of the app with its
  timing hooks (Celery's signals) on a stack of its own;
- ``external``: the project's worker started by hand as its users do
  (``celery -A reports_app:app worker -E -c W -Q reports``) on a private Redis named by
  ``CELERY_BROKER_URL``, and ``burstlab run burst --external``, which times every job from
  Celery's event stream.

Rounds alternate the two. Printed per round and as the min-max over rounds: external / own for
the mean, p50 and p99 of queue wait, service and end-to-end latency. Goal: each within 10 %.

Run: .venv/bin/python -m benchmarks.external_vs_own [ROUNDS] [WORKERS]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import burstlab, private_redis

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reports"
FLAGS = ("--app", "reports_app:app", "--task", "reports.render", "--payloads", "payloads.jsonl")
MEASURES = (("queue wait", "queue_wait_ms"), ("service", "service_ms"), ("e2e", "latency_ms"))
STATS = ("mean", "p50", "p99")
GOAL = 0.10


def run_burst(out: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    """One async burst of the example project; its summary's run."""
    proc = subprocess.run(
        burstlab("run", "burst", *FLAGS, "--modes", "async", "--no-live", "--out", str(out),
                 *extra),
        cwd=EXAMPLE, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode not in (0, 1) or not (out / "summary.json").exists():
        raise RuntimeError(f"burstlab run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    run: dict[str, Any] = json.loads((out / "summary.json").read_text())["runs"][0]
    return run


def hand_started_worker(env: dict[str, str], workers: int) -> subprocess.Popen[bytes]:
    """The project's worker as its users start it, task events on; returns once it answers."""
    argv = [sys.executable, "-m", "celery", "-A", "reports_app:app"]
    worker = subprocess.Popen(
        [*argv, "worker", "-E", "-c", str(workers), "-Q", "reports", "--loglevel=WARNING"],
        cwd=EXAMPLE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(60):
        ping = subprocess.run(
            [*argv, "inspect", "ping"], cwd=EXAMPLE, env=env, capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        if "pong" in ping.stdout:
            return worker
        time.sleep(1)
    worker.terminate()
    raise RuntimeError("the hand-started worker never answered a ping")


def compare(own: dict[str, Any], external: dict[str, Any]) -> dict[str, float]:
    """external / own for each measure and statistic."""
    ratios = {}
    for label, key in MEASURES:
        for stat in STATS:
            ratios[f"{label} {stat}"] = float(external[key][stat]) / float(own[key][stat])
    return ratios


def main(rounds: int, workers: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="burstlab-bench-external-"))
    per_round: list[dict[str, float]] = []
    with private_redis() as redis_url:
        base = redis_url.rsplit("/", 1)[0]
        env = {
            **os.environ,
            "PYTHONDONTWRITEBYTECODE": "1",
            "CELERY_BROKER_URL": f"{base}/0",
            "CELERY_RESULT_BACKEND": f"{base}/1",
        }
        worker = hand_started_worker(env, workers)
        try:
            for index in range(rounds):
                own = run_burst(folder / f"own-{index}", env, "--workers", str(workers))
                external = run_burst(folder / f"external-{index}", env, "--external")
                if external["workers"] != workers or own["lost"] or external["lost"]:
                    raise RuntimeError(f"round {index}: workers or lost jobs differ")
                ratios = compare(own, external)
                per_round.append(ratios)
                print(f"round {index + 1}: offered {own['offered']} / {external['offered']}")
                for label, key in MEASURES:
                    cells = [
                        f"{stat} {own[key][stat]:.1f} / {external[key][stat]:.1f} ms"
                        for stat in STATS
                    ]
                    print(f"  {label:10} own / external: " + ", ".join(cells))
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    print(f"external / own over {rounds} rounds, {workers} worker processes (goal within 10 %):")
    met = True
    for name in per_round[0]:
        values = [ratios[name] for ratios in per_round]
        low, high = min(values), max(values)
        inside = all(abs(value - 1) <= GOAL for value in values)
        met = met and inside
        print(f"  {name:16} {low:.3f}-{high:.3f}  {'met' if inside else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    args = [int(arg) for arg in sys.argv[1:]]
    sys.exit(main(*(args + [3, 2][len(args) :])))
