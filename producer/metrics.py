"""The producer's metrics: requests, jobs per mode, their latency split, backlog, loop lag.

The producer is one asyncio process, so its values live in memory in the app's own registry.
Job timings come from where they are known without extra Redis calls: a sync job's from the
baseline's reply; an async job's from what the producer kept when it accepted the job (submitted
and enqueued times) and the final job event the worker publishes anyway (started and finished).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from burstlab.jobs.events import FinalEvent
from burstlab.jobs.experiment_context import ExperimentMetrics
from burstlab.jobs.record import OUTCOMES
from burstlab.jobs.spec import MODES
from burstlab.telemetry.buckets import LATENCY_BUCKETS_S
from producer.backends.snapshot import QueueSnapshot

NO_MODE = "none"
"""The ``mode`` label of a request that carries no job (status reads, health, metrics)."""

REJECT_REASONS = (
    "invalid",
    "broker_unavailable",
    "baseline_unavailable",
    "baseline_timeout",
    "baseline_error",
    "overloaded",
    "backlog_full",
)
MAX_TRACKED_ASYNC_JOBS = 1_000_000
"""Async jobs awaiting their final event; beyond this a job is not timed (memory bound)."""


@dataclass(slots=True)
class SyncBacklog:
    """The sync jobs this producer holds: waiting for a forwarding slot, and forwarded.

    The sync side's queue: callers blocked on the producer, as the async backlog is jobs in Redis.
    """

    waiting: int = 0
    in_flight: int = 0

    def view(self) -> dict[str, int]:
        """``waiting``, ``in_flight`` and their sum ``backlog``: the ``sync`` part of ``/queue``."""
        return {
            "waiting": self.waiting,
            "in_flight": self.in_flight,
            "backlog": self.waiting + self.in_flight,
        }


class QueueCollector:
    """Exposes the last :class:`QueueSnapshot`; nothing but ``burstlab_broker_up 0`` without one."""

    def __init__(self) -> None:
        self._last: tuple[QueueSnapshot | None, float] = (None, 0.0)

    def update(self, snapshot: QueueSnapshot | None, now: float) -> None:
        """Set what the next collection exposes (``None``: the broker could not be read).

        One assignment, so a scrape served from another thread sees a snapshot and its time
        together.
        """
        self._last = (snapshot, now)

    def collect(self) -> Iterator[Metric]:
        snapshot, now = self._last
        yield GaugeMetricFamily(
            "burstlab_broker_up",
            "Whether the producer could read the queue from Redis at its last read (every 0.5 s).",
            value=0 if snapshot is None else 1,
        )
        if snapshot is None:
            return
        yield GaugeMetricFamily(
            "burstlab_async_backlog_jobs",
            "Async jobs not yet finished by a worker: queued plus reserved (read every 0.5 s).",
            value=snapshot.backlog,
        )
        yield GaugeMetricFamily(
            "burstlab_async_queued_jobs",
            "Async jobs waiting in the queue, summed over its priority sub-queues.",
            value=snapshot.queued,
        )
        yield GaugeMetricFamily(
            "burstlab_async_reserved_jobs",
            "Async jobs delivered to a worker but not acknowledged (prefetched or running).",
            value=snapshot.reserved,
        )
        age = 0.0
        if snapshot.oldest_enqueued_at is not None:
            age = max(0.0, now - snapshot.oldest_enqueued_at)
        yield GaugeMetricFamily(
            "burstlab_async_oldest_queued_age_seconds",
            "How long the oldest job still in the queue has waited (0 when it is empty).",
            value=age,
        )


class ProducerMetrics:
    """Every metric of one producer app, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "burstlab_http_requests_total",
            "HTTP requests answered, by route template, job mode and status code.",
            ["route", "mode", "status"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "burstlab_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and job mode.",
            ["route", "mode"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.submitted = Counter(
            "burstlab_jobs_submitted_total",
            "Job submissions received with a valid mode (the offered load), by mode.",
            ["mode"],
            registry=registry,
        )
        self.rejected = Counter(
            "burstlab_jobs_rejected_total",
            "Submissions not accepted, by mode and reason (invalid or a dependency down).",
            ["mode", "reason"],
            registry=registry,
        )
        self.completed = Counter(
            "burstlab_jobs_completed_total",
            "Accepted jobs that finished, by mode and outcome.",
            ["mode", "outcome"],
            registry=registry,
        )
        self.end_to_end = Histogram(
            "burstlab_job_end_to_end_seconds",
            "Job latency from the producer receiving it to a worker finishing it, by mode.",
            ["mode"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "burstlab_job_queue_wait_seconds",
            "Job time from enqueued (async) or forwarded (sync) to started, by mode.",
            ["mode"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.service = Histogram(
            "burstlab_job_service_seconds",
            "Job time from started to finished, by mode.",
            ["mode"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.sync = SyncBacklog()
        self.sync_waiting = Gauge(
            "burstlab_sync_requests_waiting",
            "Sync jobs received and waiting for a forwarding slot (SYNC_MAX_INFLIGHT).",
            registry=registry,
        )
        self.sync_waiting.set_function(lambda: self.sync.waiting)
        self.sync_in_flight = Gauge(
            "burstlab_sync_requests_in_flight",
            "Sync jobs forwarded to the baseline (holding a slot) and not yet answered.",
            registry=registry,
        )
        self.sync_in_flight.set_function(lambda: self.sync.in_flight)
        self.async_in_flight = Gauge(
            "burstlab_async_jobs_in_flight",
            "Async jobs this producer accepted whose final event it has not seen yet.",
            registry=registry,
        )
        self.loop_lag = Histogram(
            "burstlab_event_loop_lag_seconds",
            "How late the producer's event loop woke a periodic timer.",
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.experiment = ExperimentMetrics(registry)
        self.queue = QueueCollector()
        registry.register(self.queue)  # type: ignore[arg-type]
        ProcessCollector(registry=registry)
        self._pending: dict[str, tuple[float, float]] = {}
        """Accepted async jobs awaiting their final event: job id to (submitted, enqueued)."""
        self.async_in_flight.set_function(lambda: len(self._pending))
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._submitted: dict[str, Any] = {mode: self.submitted.labels(mode) for mode in MODES}
        self._completed: dict[tuple[str, str], Any] = {
            (mode, outcome): self.completed.labels(mode, outcome)
            for mode in MODES
            for outcome in OUTCOMES
        }
        self._stages: dict[str, tuple[Any, Any, Any]] = {
            mode: (
                self.end_to_end.labels(mode),
                self.queue_wait.labels(mode),
                self.service.labels(mode),
            )
            for mode in MODES
        }
        for mode in MODES:
            for reason in REJECT_REASONS:
                self.rejected.labels(mode, reason)

    def initialize_job_route(self, job_route: str) -> None:
        """Create the job route's latency series of each mode at zero, so its quantile exists
        from the first job. Other routes' series appear when first called: empty histograms for
        routes nobody calls would only lengthen every 1 s scrape."""
        for mode in MODES:
            self.request_duration.labels(job_route, mode)

    def observe_request(self, route: str, mode: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        key = (route, mode, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, mode, str(status)),
                self.request_duration.labels(route, mode),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def job_submitted(self, mode: str) -> None:
        """Count a submission with a valid mode (accepted or not)."""
        self._submitted[mode].inc()

    def job_rejected(self, mode: str, reason: str) -> None:
        """Count a submission that was not accepted."""
        self.rejected.labels(mode, reason).inc()

    def job_finished(
        self,
        mode: str,
        outcome: str,
        submitted_at: float | None,
        enqueued_at: float | None,
        started_at: float | None,
        finished_at: float | None,
    ) -> None:
        """Count a finished job and observe whichever of its stages have both ends."""
        counter = self._completed.get((mode, outcome))
        if counter is None:
            return
        counter.inc()
        end_to_end, queue_wait, service = self._stages[mode]
        if finished_at is not None and submitted_at is not None:
            end_to_end.observe(max(0.0, finished_at - submitted_at))
        if started_at is not None and enqueued_at is not None:
            queue_wait.observe(max(0.0, started_at - enqueued_at))
        if finished_at is not None and started_at is not None:
            service.observe(max(0.0, finished_at - started_at))

    def track_async(self, job_id: str, submitted_at: float, enqueued_at: float) -> None:
        """Remember an async job being submitted, to time it when its final event comes."""
        if len(self._pending) < MAX_TRACKED_ASYNC_JOBS:
            self._pending[job_id] = (submitted_at, enqueued_at)

    def untrack_async(self, job_id: str) -> None:
        """Forget an async job that was not accepted."""
        self._pending.pop(job_id, None)

    def on_final_event(self, event: FinalEvent) -> None:
        """Count and time an async job this producer accepted, from the worker's final event."""
        accepted = self._pending.pop(event.job_id, None)
        if accepted is None:
            return  # another producer's job, or one timed already (a redelivery)
        submitted_at, enqueued_at = accepted
        self.job_finished(
            "async", event.status, submitted_at, enqueued_at, event.started_at, event.finished_at
        )
