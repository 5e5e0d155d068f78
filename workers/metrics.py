"""The worker's metrics: jobs started and finished, queue wait, service time, busy processes.

Values are written by the pool processes that run jobs; under prefork they live in
``PROMETHEUS_MULTIPROC_DIR`` (see :mod:`telemetry.multiproc`) and the main process serves
their sum. Gauges are ``livesum``: the busy and total counts of processes alive right now.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from burstlab.jobs.record import OUTCOMES
from burstlab.jobs.spec import KINDS
from burstlab.telemetry.buckets import LATENCY_BUCKETS_S

UNKNOWN_KIND = "unknown"
"""The ``kind`` label of a message whose spec is not valid."""


class WorkerMetrics:
    """Every metric a worker process records; ``registry=None`` registers nowhere."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.started = Counter(
            "burstlab_worker_jobs_started_total",
            "Jobs a worker process started running, by kind (redeliveries count again).",
            ["kind"],
            registry=registry,
        )
        self.finished = Counter(
            "burstlab_worker_jobs_finished_total",
            "Jobs a worker process finished, by kind and outcome.",
            ["kind", "outcome"],
            registry=registry,
        )
        self.duplicates = Counter(
            "burstlab_worker_duplicate_deliveries_total",
            "Deliveries of a job that had already finished: acknowledged, not run again.",
            registry=registry,
        )
        self.queue_wait = Histogram(
            "burstlab_worker_queue_wait_seconds",
            "Time a job waited from being enqueued by the producer to a worker starting it.",
            ["kind"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.service = Histogram(
            "burstlab_worker_service_seconds",
            "Time a worker spent running a job (started to finished).",
            ["kind"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.busy = Gauge(
            "burstlab_worker_busy_processes",
            "Worker processes running a job right now.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.processes = Gauge(
            "burstlab_worker_processes",
            "Worker processes alive (the pool's concurrency).",
            registry=registry,
            multiprocess_mode="livesum",
        )

    def initialize_labels(self) -> None:
        """Create every known label set at zero, so rates exist before the first job."""
        for kind in KINDS:
            self.started.labels(kind)
            self.queue_wait.labels(kind)
            self.service.labels(kind)
            for outcome in OUTCOMES:
                self.finished.labels(kind, outcome)
