"""Benchmark: the default burst on the compose stack beside the plain-process stack.

The shipped ``burst`` scenario (200 I/O jobs of 50 ms in 0.2 s over a trickle), workers 1, 2
and 4, sync and async, run two ways in alternating rounds:

- ``compose``: ``burstlab run burst --compose --workers 1,2,4`` against docker-compose.yml on a
  Docker engine (the one that answers, or a private dockerd started and stopped here), with the
  images the compose file pins or their Debian-built stand-ins (``burstlab compose base-images``);
- ``local``: ``burstlab run burst --workers 1,2,4``, the same services as processes
  (``burstlab stack up``'s stack, one per worker count).

Printed per round and as min-max over rounds, per mode and worker count: the drain's deviation
from its prediction on each stack, the drain compose / local, the async accept p99 on each, and
whether the generator fell behind. Goal: compose's drain within 10 % of the local stack's.

Run: .venv/bin/python -m benchmarks.compose_vs_local [ROUNDS]
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import burstlab
from burstlab.compose.client import Compose
from burstlab.compose.engine import PrivateEngine, server_version
from burstlab.compose.envfile import from_example
from burstlab.compose.standins import ensure_images
from burstlab.stack.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
WORKERS = "1,2,4"
GOAL = 0.10


def run_burst(out: Path, env: dict[str, str], *extra: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        burstlab("run", "burst", "--workers", WORKERS, "--no-live", "--out", str(out), *extra),
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if not (out / "summary.json").exists():
        raise RuntimeError(f"burstlab run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    runs: list[dict[str, Any]] = json.loads((out / "summary.json").read_text())["runs"]
    return runs


def compose_stack(folder: Path) -> tuple[Compose, str]:
    """A project of docker-compose.yml, images ready, every service but Grafana up at 1 worker."""
    resolved = ensure_images(ROOT / "docker-compose.yml", log=lambda line: None)
    port = free_port()
    values = {r.variable: r.image for r in resolved if r.how != "missing"}
    values |= {n: secrets.token_hex(8) for n in ("REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD")}
    values |= {"PRODUCER_PORT": str(port), "PROMETHEUS_PORT": str(free_port())}
    env_file = from_example(ROOT / ".env.example", folder / ".env", values)
    compose = Compose(ROOT / "docker-compose.yml", f"blbench{os.getpid()}", env_file=env_file)
    compose.run(["build", "worker"], timeout_s=900)
    services = ("redis", "baseline", "producer", "worker", "prometheus")
    compose.run(["up", "-d", "--wait", "--scale", "worker=1", *services], timeout_s=600)
    return compose, f"http://127.0.0.1:{port}"


def row(runs: list[dict[str, Any]], mode: str, workers: int) -> dict[str, Any]:
    return next(r for r in runs if r["mode"] == mode and r["workers"] == workers)


def main(rounds: int) -> None:
    engine = None if server_version(os.environ.get("DOCKER_HOST")) else PrivateEngine()
    if engine is not None:
        print(f"Docker {engine.start()} (private dockerd under {engine.root})")
        os.environ["DOCKER_HOST"] = engine.host
    else:
        print(f"Docker {server_version(os.environ.get('DOCKER_HOST'))}")
    table: dict[tuple[str, int], dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="burstlab-bench-") as tmp:
        folder = Path(tmp)
        compose, target = compose_stack(folder)
        assert compose.env_file is not None
        compose_env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": str(compose.project),
            "COMPOSE_ENV_FILES": str(compose.env_file),
        }
        try:
            for n in range(rounds):
                got = {
                    "compose": run_burst(
                        folder / f"c{n}", compose_env, "--compose", "--target", target
                    ),
                    "local": run_burst(folder / f"l{n}", dict(os.environ)),
                }
                print(f"round {n + 1}")
                for mode in ("sync", "async"):
                    for workers in (1, 2, 4):
                        c, loc = (row(got[k], mode, workers) for k in ("compose", "local"))
                        cells = table.setdefault((mode, workers), {})
                        for key, value in {
                            "dev compose": c["theory"]["checks"]["drain_s"]["deviation"] * 100,
                            "dev local": loc["theory"]["checks"]["drain_s"]["deviation"] * 100,
                            "drain c/l": c["drain_s"] / loc["drain_s"],
                            "accept p99 compose": c["accept_latency_ms"]["p99"],
                            "accept p99 local": loc["accept_latency_ms"]["p99"],
                            "behind": float(c["generator_fell_behind"])
                            + 2 * float(loc["generator_fell_behind"]),
                        }.items():
                            cells.setdefault(key, []).append(value)
                        print(
                            f"  {mode:<5} x{workers}  drain {c['drain_s']:.2f} / "
                            f"{loc['drain_s']:.2f} s = {c['drain_s'] / loc['drain_s']:.3f}  "
                            f"dev {cells['dev compose'][-1]:+.1f} / {cells['dev local'][-1]:+.1f} %"
                            f"  accept p99 {c['accept_latency_ms']['p99']:.1f} / "
                            f"{loc['accept_latency_ms']['p99']:.1f} ms  generator behind "
                            f"{c['generator_fell_behind']} / {loc['generator_fell_behind']}"
                        )
        finally:
            compose.run(["down", "-v", "--timeout", "5"], timeout_s=300)
            if engine is not None:
                engine.stop()
    print(f"\nmin-max over {rounds} rounds (compose / local):")
    for (mode, workers), cells in table.items():
        ratio = cells["drain c/l"]
        verdict = "ok" if max(abs(r - 1) for r in ratio) <= GOAL else "over 10 %"
        print(
            f"  {mode:<5} x{workers}  drain compose/local {min(ratio):.3f}-{max(ratio):.3f} "
            f"({verdict})  dev compose {min(cells['dev compose']):+.1f} to "
            f"{max(cells['dev compose']):+.1f} %, local {min(cells['dev local']):+.1f} to "
            f"{max(cells['dev local']):+.1f} %  accept p99 compose "
            f"{min(cells['accept p99 compose']):.1f}-{max(cells['accept p99 compose']):.1f} ms, "
            f"local {min(cells['accept p99 local']):.1f}-{max(cells['accept p99 local']):.1f} ms"
            f"  generator behind (c, l): {sum(v % 2 for v in cells['behind']):.0f}, "
            f"{sum(v // 2 for v in cells['behind']):.0f} of {rounds}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
