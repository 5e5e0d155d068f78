"""Benchmark: how long the queue replay takes to predict a 10,000-job run 200 times.

The workload is the worst case of the shipped scenarios' kind, scaled up: 10,000 Poisson
arrivals at 90 % of the capacity of 4 servers, each job's service time drawn from 40 measured
run times (lognormal, CV 0.5) plus 5 measured hand-over times, 200 replays for the band. It is
run with fixed servers and with a replica timeline (servers starting and stopping at their own
times). The goal: under 2 s on the 2-core machine the lab runs on.

Run: .venv/bin/python -m benchmarks.replay_speed [REPEATS]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from burstlab.experiments.model.replay import REPLAYS, Servers, Workload, predict
from burstlab.experiments.model.service import ServiceModel

JOBS = 10_000
SERVERS = 4
MEAN_S = 0.05
GOAL_S = 2.0


def workload(seed: int = 1) -> tuple[Workload, ServiceModel]:
    """The benchmark's arrivals and service model, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    rate = 0.9 * SERVERS / MEAN_S
    arrivals = np.cumsum(rng.exponential(1 / rate, JOBS))
    sigma = np.sqrt(np.log(1 + 0.5**2))
    runs = rng.lognormal(np.log(MEAN_S) - sigma**2 / 2, sigma, 40)
    overheads = rng.uniform(0.004, 0.007, 5)
    return Workload(arrivals), ServiceModel(tuple(runs), tuple(overheads))


def main(repeats: int = 3) -> None:
    """Print the time of each replay set and whether it met the goal."""
    load, service = workload()
    span = float(load.arrivals_s[-1])
    timeline = Servers(
        ready_s=(0.0, 0.0, 1.0, 0.5 * span, 0.5 * span),
        stop_s=(np.inf, np.inf, np.inf, 0.8 * span, np.inf),
    )
    for name, servers in (("fixed 4 servers", Servers.fixed(SERVERS)), ("timeline", timeline)):
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            prediction = predict(load, service, servers, replays=REPLAYS)
            times.append(time.perf_counter() - began)
        drain = prediction.bands["drain_s"]
        verdict = "met" if max(times) < GOAL_S else "MISSED"
        print(
            f"{JOBS} jobs x {REPLAYS} replays, {name}: "
            + ", ".join(f"{t:.2f}" for t in times)
            + f" s (goal < {GOAL_S:.0f} s: {verdict}); drain {drain.median:.2f} s"
            f" ({drain.low:.2f}-{drain.high:.2f})"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
