"""The sweep panels of "Sync vs Async": one point per sweep step, from the per-step rules.

The runner announces each step's measured part (phase ``step`` of the experiment context, with
its rho); the ``step:`` recording rules label cumulative figures with it. Each panel query takes
a step's last sample minus its first within the dashboard's range (``$__range``), so a step's
throughput and p99 come from the jobs that finished inside it. The queries are instant ones: one
table row per step, joined on the step's labels, drawn one line per scenario, mode and workers.
"""

from __future__ import annotations

from typing import Any

from burstlab.dashboards.panels import Target, at
from burstlab.dashboards.xy import xy_chart, xy_options, xy_series

STEP_RANGE = "$__range"
"""Grafana's dashboard time range: each step is read over its own samples within it."""
LATENCY_CURVE_PANEL = "Latency vs throughput, per sweep step"
CAPACITY_PANEL = "SLO capacity vs workers, per mode"


def _step_increase(rule: str) -> str:
    """A per-step recorded series' rise over the step: its last sample minus its first."""
    return f"(max_over_time({rule}[{STEP_RANGE}]) - min_over_time({rule}[{STEP_RANGE}]))"


STEP_THROUGHPUT = (
    f"{_step_increase('step:burstlab_jobs_completed:sum')} "
    f"/ ({_step_increase('step:burstlab_experiment_step:time_seconds')} > 0)"
)
"""Jobs finished between a step's first and last measured sample, per second between them."""
STEP_P99 = (
    f"histogram_quantile(0.99, {_step_increase('step:burstlab_job_end_to_end_seconds_bucket:sum')})"
)
"""The p99 end-to-end latency of the jobs that finished in a step's measured part."""
STEP_SLO = f"max_over_time(step:burstlab_experiment_slo:p99_seconds[{STEP_RANGE}])"
STEP_KEYS = "scenario, mode, workers, rho"


def sweep_panels() -> list[Any]:
    """The latency-throughput curve and the SLO capacity per worker count."""
    to_table: list[tuple[str, dict[str, Any]]] = [
        ("merge", {}),
        (
            "convertFieldType",
            {"conversions": [{"targetField": "rho", "destinationType": "number"}]},
        ),
        ("sortBy", {"sort": [{"field": "rho"}]}),
        (
            "organize",
            {
                "excludeByName": {"Time": True, "rho": True},
                "renameByName": {"Value #A": "completed jobs/s", "Value #B": "p99 latency"},
            },
        ),
        (
            "partitionByValues",
            {"fields": ["scenario", "mode", "workers"], "naming": {"asLabels": True}},
        ),
    ]
    curve = xy_chart(
        14,
        LATENCY_CURVE_PANEL,
        "The latency-throughput curve of a sweep (burstlab run sweep-io, sweep-cpu), drawn while "
        "it runs: one point per step, achieved throughput (x) against p99 end-to-end latency "
        "(y, log), one line per scenario, mode and worker count, in rising rho. Flat, then "
        "bending up at the knee. Each step counts from the end of its warm-up (phase 'step' of "
        "the experiment context) to the end of its schedule. Resolution: per step, the jobs "
        "that finished between its first and last 1 s rule evaluation (jobs/s over that time, "
        "and their p99 from the histogram's buckets), for the steps in the dashboard's time "
        "range. Set the range to one sweep: the same step run twice in it (same scenario, mode, "
        "workers and rho) would span everything between the two runs.",
        at(0, 52, 16, 10),
        [
            Target(STEP_THROUGHPUT, "completed jobs/s", instant=True),
            Target(STEP_P99, "p99 latency", instant=True),
        ],
        x_fields="completed jobs/s",
        x_unit="reqps",
        y_unit="s",
        y_log=True,
        lines=True,
        options=xy_options("auto", [xy_series("completed jobs/s", "p99 latency")]),
        transformations=to_table,
    )
    within_slo = (
        f"max by (scenario, mode, workers) ({STEP_THROUGHPUT} "
        f"and on ({STEP_KEYS}) ({STEP_P99} <= on ({STEP_KEYS}) {STEP_SLO}))"
    )
    capacity = xy_chart(
        15,
        CAPACITY_PANEL,
        "Per mode, against the worker count: the highest step throughput whose p99 met the "
        "sweep's SLO (slo_p99_ms, announced by the runner), and the highest throughput of any "
        "step. Linear scaling is a straight line through the origin; contention bends it. The "
        "report interpolates between steps and fits the Universal Scalability Law; this panel "
        "shows the measured steps only. Resolution: per step, the jobs that finished between "
        "its first and last 1 s rule evaluation, for the steps in the dashboard's time range.",
        at(16, 52, 8, 10),
        [
            Target(within_slo, "within SLO", instant=True),
            Target(f"max by (scenario, mode, workers) ({STEP_THROUGHPUT})", "peak", instant=True),
        ],
        x_fields="workers",
        x_unit="short",
        y_unit="reqps",
        y_log=False,
        lines=True,
        options=xy_options("auto", [xy_series("workers")]),
        transformations=[
            ("merge", {}),
            (
                "convertFieldType",
                {"conversions": [{"targetField": "workers", "destinationType": "number"}]},
            ),
            ("sortBy", {"sort": [{"field": "workers"}]}),
            (
                "organize",
                {
                    "excludeByName": {"Time": True},
                    "renameByName": {
                        "Value #A": "jobs/s with p99 within SLO",
                        "Value #B": "peak jobs/s",
                    },
                },
            ),
            ("partitionByValues", {"fields": ["scenario", "mode"], "naming": {"asLabels": True}}),
        ],
    )
    return [curve, capacity]
