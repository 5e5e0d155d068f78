"""The baseline's metrics: requests in flight, jobs finished, service time, processes.

gunicorn's sync workers write them to ``PROMETHEUS_MULTIPROC_DIR``; the master serves the sum
(see :mod:`sync_baseline.server`). A sync worker runs one request at a time, so requests in
flight are also the busy processes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from burstlab.jobs.record import OUTCOMES
from burstlab.jobs.spec import KINDS
from burstlab.telemetry.buckets import LATENCY_BUCKETS_S


class BaselineMetrics:
    """Every metric a baseline worker records; ``registry=None`` registers nowhere."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.in_flight = Gauge(
            "burstlab_baseline_requests_in_flight",
            "Job requests a baseline process is serving right now (its busy processes).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.processes = Gauge(
            "burstlab_baseline_processes",
            "Baseline (gunicorn sync) worker processes alive.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.finished = Counter(
            "burstlab_baseline_jobs_finished_total",
            "Jobs the baseline ran to the end, by kind and outcome.",
            ["kind", "outcome"],
            registry=registry,
        )
        self.service = Histogram(
            "burstlab_baseline_service_seconds",
            "Time a baseline process spent running a job (started to finished).",
            ["kind"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )

    def initialize_labels(self) -> None:
        """Create every known label set at zero, so rates exist before the first job."""
        for kind in KINDS:
            self.service.labels(kind)
            for outcome in OUTCOMES:
                self.finished.labels(kind, outcome)
