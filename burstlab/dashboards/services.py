"""The "Services" dashboard: each service on its own (scrapes, producer, workers, baseline)."""

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
    time_series,
)

UID = "burstlab-services"


def _producer_panels() -> list[Any]:
    latency = (
        "histogram_quantile(0.95, sum by (route, mode, le) "
        "(rate(burstlab_http_request_duration_seconds_bucket[5s])))"
    )
    return [
        time_series(
            3,
            "Producer: requests per second by route and status",
            "Every answered request, by route template and status code. Counted when the answer "
            "is sent. " + RATE_5S,
            at(0, 6, 12, 8),
            [
                Target(
                    "sum by (route, status) (rate(burstlab_http_requests_total[5s]))",
                    "{{route}} {{status}}",
                )
            ],
            unit="reqps",
        ),
        time_series(
            4,
            "Producer: request latency p95 by route and mode",
            "Time to answer; a sync POST /jobs includes the whole job, an async one only the "
            "enqueue, a long-poll GET its wait. " + QUANTILES_5S,
            at(12, 6, 12, 8),
            [Target(latency, "{{route}} {{mode}}")],
            unit="s",
            log=True,
        ),
        time_series(
            5,
            "Producer: CPU and broker",
            "CPU seconds per second of the producer process (1 = one core), and whether it could "
            "read the queue from Redis at its last read (every 0.5 s). Resolution: 1 s scrapes, "
            "CPU rate over 5 s windows; broker state as of the last read, at most 0.5 s old.",
            at(0, 14, 12, 8),
            [
                Target('rate(process_cpu_seconds_total{job="producer"}[5s])', "producer CPU"),
                Target("burstlab_broker_up", "broker reachable"),
            ],
            unit="short",
        ),
        time_series(
            6,
            "Producer: async jobs in flight",
            "Async jobs the producer accepted whose final event it has not seen yet, beside the "
            "backlog read from Redis. " + SCRAPED,
            at(12, 14, 12, 8),
            [
                Target("burstlab_async_jobs_in_flight", "in flight (producer view)"),
                Target("burstlab_async_backlog_jobs", "backlog (Redis)"),
            ],
            unit="short",
        ),
    ]


def _worker_panels() -> list[Any]:
    baseline = time_series(
        10,
        "Baseline: jobs finished per second and p95 service time",
        "gunicorn sync workers: jobs run to the end by kind and outcome, and their p95 service "
        "time (right axis). Resolution: 1 s scrapes, rates and p95 over 5 s windows.",
        at(12, 30, 12, 8),
        [
            Target(
                "sum by (kind, outcome) (rate(burstlab_baseline_jobs_finished_total[5s]))",
                "finished {{kind}} {{outcome}}",
            ),
            Target("kind:burstlab_baseline_service_seconds:p95_rate5s", "service p95 {{kind}}"),
        ],
        unit="reqps",
    )
    baseline = override(baseline, "service p95.*", custom__axisPlacement="right", unit="s")
    return [
        time_series(
            7,
            "Workers: jobs per second by kind",
            "Jobs started, and finished by outcome, summed over every worker replica. " + RATE_5S,
            at(0, 22, 12, 8),
            [
                Target(
                    "sum by (kind) (rate(burstlab_worker_jobs_started_total[5s]))",
                    "started {{kind}}",
                ),
                Target(
                    "sum by (kind, outcome) (rate(burstlab_worker_jobs_finished_total[5s]))",
                    "finished {{kind}} {{outcome}}",
                ),
            ],
            unit="reqps",
        ),
        time_series(
            8,
            "Workers: p95 queue wait and service time by kind",
            "Queue wait: enqueued by the producer to started by a worker (the SLO alert watches "
            "it). Service: started to finished. " + QUANTILES_5S,
            at(12, 22, 12, 8),
            [
                Target("kind:burstlab_worker_queue_wait_seconds:p95_rate5s", "queue wait {{kind}}"),
                Target("kind:burstlab_worker_service_seconds:p95_rate5s", "service {{kind}}"),
            ],
            unit="s",
            log=True,
        ),
        time_series(
            9,
            "Workers: busy and total processes per replica",
            "Pool processes of each worker replica (main process serves the sum over its pool). "
            + SCRAPED,
            at(0, 30, 12, 8),
            [
                Target("sum by (instance) (burstlab_worker_busy_processes)", "busy {{instance}}"),
                Target("sum by (instance) (burstlab_worker_processes)", "processes {{instance}}"),
            ],
            unit="short",
        ),
        baseline,
        time_series(
            11,
            "Baseline: busy and total processes",
            "Requests in flight (one per busy sync worker) and processes alive. " + SCRAPED,
            at(0, 38, 12, 8),
            [
                Target("sum(burstlab_baseline_requests_in_flight)", "busy"),
                Target("sum(burstlab_baseline_processes)", "processes"),
            ],
            unit="short",
        ),
        time_series(
            12,
            "Alerts pending or firing",
            "burstlab's alert rules (monitoring/prometheus/rules/alerts.yml) by state. "
            "Resolution: rules evaluated every 1 s; an alert is pending until its 'for' duration "
            "has passed, then firing.",
            at(12, 38, 12, 8),
            [Target("count by (alertname, alertstate) (ALERTS)", "{{alertname}} {{alertstate}}")],
            unit="short",
        ),
    ]


def services() -> Any:
    """The dashboard, built (an SDK model ready for JSON)."""
    scrapes = [
        time_series(
            1,
            "Targets up",
            "1 when Prometheus' last scrape of the target succeeded. Resolution: each 1 s scrape.",
            at(0, 0, 12, 6),
            [Target("up", "{{job}} {{instance}}")],
            unit="short",
        ),
        time_series(
            2,
            "Scrape duration",
            "How long each target took to answer /metrics (the producer reads the queue from "
            "Redis first). Resolution: each 1 s scrape (1 s timeout).",
            at(12, 0, 12, 6),
            [Target("scrape_duration_seconds", "{{job}} {{instance}}")],
            unit="s",
        ),
    ]
    builder = dashboard(
        UID,
        "burstlab: Services",
        "Each service on its own: scrape health, the producer, the Celery workers, the sync "
        "baseline.",
    )
    for panel in [*scrapes, *_producer_panels(), *_worker_panels()]:
        builder = builder.with_panel(panel)
    return builder.build()
