"""The "Sync vs Async" dashboard: the same jobs through the blocking baseline and the queue.

Rows, top to bottom: what the runner is doing; load and latency; where the time goes; backlog;
workers; rejections, loop lag and the time-joined latency/throughput scatter; counts; and the
sweep panels (one point per step: the latency-throughput curve and SLO capacity per workers).
"""

from __future__ import annotations

from typing import Any

from burstlab.dashboards.base import dashboard
from burstlab.dashboards.panels import (
    QUANTILES_5S,
    RATE_5S,
    SCRAPED,
    Target,
    at,
    override,
    state_timeline,
    time_series,
)
from burstlab.dashboards.sweep import sweep_panels
from burstlab.dashboards.xy import xy_chart, xy_options, xy_series

UID = "burstlab-sync-vs-async"
RATE_5S_COUNTED = RATE_5S + " The counts are on the 'jobs in the last minute' panel."


def _scatter() -> Any:
    modes = ("sync", "async")
    return xy_chart(
        12,
        "Latency vs throughput, per mode",
        "Each point is one evaluation: completed jobs per second (x) against p95 end-to-end "
        "latency (y). The knee is where a side saturates. Resolution: one point per query step "
        "(1 s over a range of 5 min or less); throughput and p95 over 5 s windows.",
        at(16, 36, 8, 8),
        [
            Target("mode:burstlab_jobs_completed:rate5s", "throughput {{mode}}"),
            Target("mode:burstlab_job_end_to_end_seconds:p95_rate5s", "p95 {{mode}}"),
        ],
        x_fields="throughput.*",
        x_unit="reqps",
        y_unit="s",
        y_log=True,
        lines=False,
        options=xy_options(
            "manual",
            [xy_series(f"throughput {m}", f"p95 {m}", name=m, frame=0) for m in modes],
        ),
        transformations=[("joinByField", {"byField": "Time", "mode": "outer"})],
    )


def _load_panels() -> list[Any]:
    stacked = time_series(
        4,
        "Where the time goes: mean queue wait + service, per mode",
        "Mean queue wait (enqueued or forwarded to started) stacked on mean service time "
        "(started to finished), one stack per mode. Means add up; quantiles do not. Resolution: "
        "1 s scrapes, means of the jobs finished in each 5 s window.",
        at(0, 12, 12, 8),
        [
            Target("mode:burstlab_job_queue_wait_seconds:mean_rate5s", "queue wait {{mode}}"),
            Target("mode:burstlab_job_service_seconds:mean_rate5s", "service {{mode}}"),
        ],
        unit="s",
        bars=True,
    )
    for mode in ("sync", "async"):
        stacked = override(
            stacked, f".* {mode}$", custom__stacking={"mode": "normal", "group": mode}
        )
    return [
        time_series(
            2,
            "Offered vs completed jobs per second, per mode",
            "Offered: valid submissions, counted when each request arrives (before it is "
            "answered; accepted or not). Completed: accepted jobs that finished. Sync completes "
            "as fast as it is offered until its workers saturate, then clients wait; async "
            "accepts everything and completes at the workers' pace. " + RATE_5S_COUNTED,
            at(0, 4, 12, 8),
            [
                Target("mode:burstlab_jobs_submitted:rate5s", "offered {{mode}}"),
                Target("mode:burstlab_jobs_completed:rate5s", "completed {{mode}}"),
            ],
            unit="reqps",
        ),
        time_series(
            3,
            "End-to-end latency p50 / p95 / p99, per mode",
            "Submit (producer received the job) to finished (a worker or the baseline finished "
            "it), both modes on one log axis. " + QUANTILES_5S,
            at(12, 4, 12, 8),
            [
                Target(f"mode:burstlab_job_end_to_end_seconds:{q}_rate5s", f"{q} {{{{mode}}}}")
                for q in ("p50", "p95", "p99")
            ],
            unit="s",
            log=True,
        ),
        stacked,
        time_series(
            5,
            "p95 queue wait vs p95 service time, per mode",
            "Under a burst the queue wait grows while the service time stays flat: the latency "
            "is waiting, not working. " + QUANTILES_5S,
            at(12, 12, 12, 8),
            [
                Target(
                    "mode:burstlab_job_queue_wait_seconds:p95_rate5s", "queue wait p95 {{mode}}"
                ),
                Target("mode:burstlab_job_service_seconds:p95_rate5s", "service p95 {{mode}}"),
            ],
            unit="s",
            log=True,
        ),
    ]


def _queue_panels() -> list[Any]:
    return [
        time_series(
            6,
            "Backlog: async queued + reserved, sync waiting + in flight",
            "Both queues, in jobs. Async: read from Redis every 0.5 s by the producer, queued "
            "(every priority sub-queue) plus reserved (delivered, not acked: prefetched or "
            "running). Sync: callers the producer holds, waiting for one of its "
            "SYNC_MAX_INFLIGHT forwarding slots plus forwarded and not yet answered (in flight; "
            "those queue again in gunicorn's listen backlog). 'backlog sync' and 'backlog "
            "async' are the two totals. " + SCRAPED,
            at(0, 20, 12, 8),
            [
                Target("mode:burstlab_backlog_jobs:sum", "backlog {{mode}}"),
                Target("burstlab_async_queued_jobs", "async queued"),
                Target("burstlab_async_reserved_jobs", "async reserved"),
                Target("burstlab_sync_requests_waiting", "sync waiting for a slot"),
                Target("burstlab_sync_requests_in_flight", "sync in flight"),
            ],
            unit="short",
        ),
        time_series(
            7,
            "Oldest queued job age",
            "How long the oldest job still in the queue has waited: the queue wait the next job "
            "to start will have. Resolution: read from Redis at each 1 s scrape.",
            at(12, 20, 12, 8),
            [Target("burstlab_async_oldest_queued_age_seconds", "oldest queued job")],
            unit="s",
        ),
        time_series(
            8,
            "Busy workers, per side",
            "Processes running a job right now vs processes alive: Celery pool processes "
            "(async) and gunicorn sync workers (sync). " + SCRAPED,
            at(0, 28, 12, 8),
            [
                Target("sum(burstlab_worker_busy_processes)", "busy async"),
                Target("sum(burstlab_worker_processes)", "processes async"),
                Target("sum(burstlab_baseline_requests_in_flight)", "busy sync"),
                Target("sum(burstlab_baseline_processes)", "processes sync"),
            ],
            unit="short",
        ),
        time_series(
            9,
            "Utilization, per side",
            "Busy processes / processes alive. Resolution: busy and alive processes read at "
            "each 1 s scrape, the ratio evaluated every 1 s.",
            at(12, 28, 12, 8),
            [
                Target("burstlab:worker_utilization:ratio", "async"),
                Target("burstlab:baseline_utilization:ratio", "sync"),
            ],
            unit="percentunit",
        ),
    ]


def _health_panels() -> list[Any]:
    lag = "histogram_quantile({q}, sum by (le) (rate(burstlab_event_loop_lag_seconds_bucket[5s])))"
    return [
        time_series(
            10,
            "Rejections per second, by mode and reason",
            "Submissions not accepted: invalid (a 400 with a valid mode), broker_unavailable "
            "(async: Redis did not take it), baseline_* (sync: the baseline was down, failed or "
            "timed out). " + RATE_5S_COUNTED,
            at(0, 36, 8, 8),
            [Target("mode_reason:burstlab_jobs_rejected:rate5s", "{{mode}} {{reason}}")],
            unit="reqps",
        ),
        time_series(
            11,
            "Producer event-loop lag",
            "How late the producer's event loop wakes a 100 ms timer: high lag delays every "
            "request, sync or async. Resolution: 1 s scrapes, quantiles of the timer wake-ups "
            "(10 a second) in each 5 s window.",
            at(8, 36, 8, 8),
            [Target(lag.format(q="0.99"), "p99"), Target(lag.format(q="0.5"), "p50")],
            unit="s",
        ),
        _scatter(),
        time_series(
            13,
            "Jobs in the last minute: offered, completed, rejected, per mode",
            "How many jobs, not how fast: each point counts the jobs of the minute before it "
            "(increase() over 1 min), so a burst of 200 jobs reads about 200 for one minute "
            "however short it was. Offered is counted when a request arrives. Resolution: 1 s "
            "scrapes; increase() extrapolates to the window's edges, so a count may be off by a "
            "few %.",
            at(0, 44, 24, 8),
            [
                Target(f"mode:burstlab_jobs_{name}:increase1m", f"{legend} {{{{mode}}}}")
                for name, legend in (
                    ("submitted", "offered"),
                    ("completed", "completed"),
                    ("rejected", "rejected"),
                )
            ],
            unit="short",
        ),
    ]


def sync_vs_async() -> Any:
    """The dashboard, built (an SDK model ready for JSON)."""
    phase = state_timeline(
        1,
        "Experiment phase",
        "What the experiment runner says it is doing (PUT /experiment on the producer): "
        "scenario, mode, worker count, phase; during a sweep also the step's rho. Resolution: "
        "1 s scrapes; the phase shows from the first scrape after PUT /experiment.",
        at(0, 0, 24, 4),
        [
            Target("burstlab_experiment_info", "{{scenario}} {{mode}} ×{{workers}}: {{phase}}"),
            Target(
                "burstlab_experiment_step_info",
                "{{scenario}} {{mode}} ×{{workers}}: rho {{rho}} {{phase}}",
            ),
        ],
    )
    builder = dashboard(
        UID,
        "burstlab: Sync vs Async",
        "The same jobs through a blocking baseline (sync) and a Celery queue (async): offered "
        "vs completed load, latency and where it goes, backlog, workers, and a sweep's "
        "latency-throughput curve.",
    )
    for panel in [phase, *_load_panels(), *_queue_panels(), *_health_panels(), *sweep_panels()]:
        builder = builder.with_panel(panel)
    return builder.build()
