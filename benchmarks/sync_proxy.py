"""Benchmark 6: sync proxy overhead. ``POST /jobs`` sync with 0 ms jobs through the producer
against ``POST /work`` on the baseline directly, same wrk settings, interleaved. Goal >= 0.7.

The baseline runs 2 gunicorn sync workers (one per core); wrk holds 8 connections.
Run: .venv/bin/python -m benchmarks.sync_proxy [ROUNDS] [SECONDS]
"""

from __future__ import annotations

import statistics
import sys

from benchmarks.harness import bench_stack, interleaved, ratio_line, wrk

CONNECTIONS = 8


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5
    with bench_stack(1, 2) as stack:
        for duration_ms in (0, 10):

            def through_producer(duration_ms: float = duration_ms) -> float:
                result = wrk(
                    f"{stack.producer_url}/jobs",
                    seconds=seconds,
                    connections=CONNECTIONS,
                    mode="sync",
                    duration_ms=duration_ms,
                )
                assert result.non_2xx == 0, result
                return result.requests_per_s

            def direct(duration_ms: float = duration_ms) -> float:
                result = wrk(
                    f"{stack.baseline_url}/work",
                    seconds=seconds,
                    connections=CONNECTIONS,
                    mode=None,
                    duration_ms=duration_ms,
                )
                assert result.non_2xx == 0, result
                return result.requests_per_s

            values = interleaved({"direct": direct, "producer": through_producer}, rounds)
            print(
                f"wrk -t1 -c{CONNECTIONS} -d{seconds:g}s, {duration_ms} ms sync jobs, "
                f"2 gunicorn workers, {rounds} interleaved rounds"
            )
            print(f"  baseline directly  median {statistics.median(values['direct']):8.0f} req/s")
            print(f"  through producer   median {statistics.median(values['producer']):8.0f} req/s")
            label = f"sync via producer / direct ({duration_ms} ms jobs)"
            print("  " + ratio_line(label, values["producer"], values["direct"], 0.7))


if __name__ == "__main__":
    main()
