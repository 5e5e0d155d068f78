"""The autoscaler: every polling interval, read the backlog, decide as the HPA does, scale.

One loop on a thread. Each poll reads the metric (the producer's ``GET /queue``), asks the
:class:`~burstlab.autoscale.stabilize.Stabilizer` for the count and sets it on the
:class:`~burstlab.autoscale.replicas.ReplicaTarget`. Every decision is logged, kept in
``timeline`` (time, metric, desired, requested, ready), exported as metrics on a registry the
caller may serve, and a change of count is announced through ``announce`` (the experiment
context, which Grafana shows).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from burstlab.autoscale.replicas import ReplicaTarget
from burstlab.autoscale.stabilize import Stabilizer
from burstlab.client import Producer, ProducerError
from burstlab.scenario.autoscale import AutoscalePolicy

log = logging.getLogger(__name__)

DESIRED_METRIC = "burstlab_autoscaler_desired_replicas"
REPLICAS_METRIC = "burstlab_autoscaler_replicas"
DECISIONS_METRIC = "burstlab_autoscaler_decisions"


@dataclass(frozen=True)
class Reading:
    """One read of the queue: the metric the policy scales on and the whole backlog."""

    metric: float
    backlog: float


@dataclass(frozen=True)
class TimelinePoint:
    """One poll as it happened; ``t_s`` counts from the scaler's start."""

    t_s: float
    epoch_s: float
    metric: float
    backlog: float
    """Jobs waiting or running; above ``metric`` when the metric does not count reserved jobs."""
    raw: int
    desired: int
    requested: int
    ready: int


class AutoscalerMetrics:
    """``burstlab_autoscaler_*`` on ``registry``, labelled by the scaled ``target``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.desired = Gauge(
            DESIRED_METRIC, "Replicas the autoscaler asks for.", ["target"], registry=registry
        )
        self.replicas = Gauge(
            REPLICAS_METRIC, "Replicas serving now.", ["target"], registry=registry
        )
        self.decisions = Counter(
            DECISIONS_METRIC,
            "Autoscaler polls, by what they did (up, down, hold).",
            ["target", "direction"],
            registry=registry,
        )


def queue_metric(producer: Producer, mode: str, metric: str) -> Callable[[], Reading]:
    """Read the backlog the policy scales on from ``GET /queue``.

    async: ``queued`` (the Redis list, what KEDA reads) or ``queued+reserved`` (plus what workers
    hold unacknowledged); sync: the callers waiting plus in flight in the producer.
    """

    def read() -> Reading:
        depth = producer.queue(timeout_s=2.0)
        if mode == "sync":
            backlog = float(depth["sync"]["backlog"])
            return Reading(backlog, backlog)
        queued = float(depth["queued"])
        backlog = queued + float(depth["reserved"])
        return Reading(backlog if metric == "queued+reserved" else queued, backlog)

    return read


class Autoscaler:
    """Polls ``read_metric`` and scales ``target`` under ``policy`` until :meth:`stop`.

    ``metrics`` (one :class:`AutoscalerMetrics` per registry, shared by every autoscaler that
    reports there) gets each decision under the label ``target=name``.
    """

    def __init__(
        self,
        policy: AutoscalePolicy,
        read_metric: Callable[[], Reading],
        target: ReplicaTarget,
        *,
        name: str = "worker",
        metrics: AutoscalerMetrics | None = None,
        announce: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.name = name
        self._read = read_metric
        self._target = target
        self._stabilizer = Stabilizer(policy)
        self._metrics = metrics or AutoscalerMetrics(CollectorRegistry())
        self._announce = announce
        self._clock = clock
        self._origin = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.timeline: list[TimelinePoint] = []

    def poll(self) -> TimelinePoint | None:
        """One poll: read, decide, scale, record. A metric that cannot be read skips the poll."""
        try:
            reading = self._read()
        except (ProducerError, KeyError, ValueError) as exc:
            log.warning("autoscaler %s: cannot read the metric: %s", self.name, exc)
            return None
        now = self._clock() - self._origin
        current = self._target.requested()
        decision = self._stabilizer.decide(now, reading.metric, current)
        if decision.desired != current:
            self._target.scale(decision.desired)
        direction = (
            "up" if decision.desired > current else "down" if decision.desired < current else "hold"
        )
        point = TimelinePoint(
            t_s=now,
            epoch_s=time.time(),
            metric=reading.metric,
            backlog=reading.backlog,
            raw=decision.raw,
            desired=decision.desired,
            requested=self._target.requested(),
            ready=self._target.ready(),
        )
        self.timeline.append(point)
        self._metrics.desired.labels(self.name).set(point.desired)
        self._metrics.replicas.labels(self.name).set(point.ready)
        self._metrics.decisions.labels(self.name, direction).inc()
        log.info(
            "autoscaler %s t=%.1fs metric=%g desired=%d requested=%d ready=%d (%s)",
            self.name, now, point.metric, point.desired, point.requested, point.ready, direction,
        )  # fmt: skip
        if direction != "hold" and self._announce is not None:
            self._announce(point.desired)
        return point

    def start(self) -> Autoscaler:
        """Poll on a daemon thread every ``polling_interval_s``."""
        self._origin = self._clock()
        self._thread = threading.Thread(target=self._loop, name=f"autoscaler-{self.name}")
        self._thread.daemon = True
        self._thread.start()
        return self

    def _loop(self) -> None:
        next_at = self._clock()
        while not self._stop.is_set():
            self.poll()
            next_at += self.policy.polling_interval_s
            self._stop.wait(max(0.0, next_at - self._clock()))

    def stop(self) -> None:
        """Stop polling (the replicas stay as they are)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def timeline_dicts(self) -> list[dict[str, Any]]:
        """The timeline as plain dicts, for summary.json."""
        return [asdict(p) for p in self.timeline]
