"""Experiment context: which scenario, mode, worker count and phase a load run is in.

The experiment runner tells the producer (``PUT /experiment``) at each phase change; the
producer exposes it as metrics, so Prometheus and Grafana show when each burst hit:

- ``burstlab_experiment_info{scenario, mode, workers, phase} 1`` for the current context
  (one series at a time: the previous one is removed);
- ``burstlab_experiment_burst_active`` 1 while ``phase`` is ``burst``, else 0;
- ``burstlab_experiment_phase_started_timestamp_seconds`` when the current phase began.

The model and its gauges only: the HTTP handlers are in :mod:`producer.context_handlers`, and
a runner sets the context through :mod:`burstlab.client`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

BURST_PHASE = "burst"
CONTEXT_MODES = ("sync", "async", "mixed")
MAX_WORKERS = 10_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FIELDS = ("scenario", "mode", "workers", "phase")


class ContextError(ValueError):
    """A context field is missing or not acceptable; ``field`` names it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ExperimentContext:
    """One phase of one run: labels short and bounded (a name, not a free text)."""

    scenario: str
    mode: str
    workers: int
    phase: str

    def __post_init__(self) -> None:
        for field in ("scenario", "phase"):
            value = getattr(self, field)
            if not isinstance(value, str) or not _NAME.match(value):
                raise ContextError(
                    field, f"field {field!r} must be 1-64 of A-Z a-z 0-9 _ . - , got {value!r}"
                )
        if self.mode not in CONTEXT_MODES:
            raise ContextError("mode", f"field 'mode' must be one of {', '.join(CONTEXT_MODES)}")
        if (
            isinstance(self.workers, bool)
            or not isinstance(self.workers, int)
            or not 0 <= self.workers <= MAX_WORKERS
        ):
            raise ContextError("workers", f"field 'workers' must be an integer 0..{MAX_WORKERS}")

    @classmethod
    def from_body(cls, body: object) -> ExperimentContext:
        """Validate a decoded JSON object with exactly the four fields."""
        if not isinstance(body, dict):
            raise ContextError("body", "the body must be a JSON object")
        unknown = sorted(set(body) - set(_FIELDS))
        if unknown:
            raise ContextError(unknown[0], f"unknown field {unknown[0]!r}")
        missing = [f for f in _FIELDS if f not in body]
        if missing:
            raise ContextError(missing[0], f"field {missing[0]!r} is required")
        return cls(**body)


class ExperimentMetrics:
    """The context as metrics; at most one ``burstlab_experiment_info`` series at a time."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.info = Gauge(
            "burstlab_experiment_info",
            "The experiment phase now running (1), labelled with its scenario, mode, workers.",
            ["scenario", "mode", "workers", "phase"],
            registry=registry,
        )
        self.burst_active = Gauge(
            "burstlab_experiment_burst_active",
            "1 while the experiment runner is in a burst phase, else 0.",
            registry=registry,
        )
        self.phase_started = Gauge(
            "burstlab_experiment_phase_started_timestamp_seconds",
            "When the current experiment phase began (epoch seconds; 0 when none).",
            registry=registry,
        )
        self.current: ExperimentContext | None = None

    def set(self, context: ExperimentContext, now: float) -> None:
        """Make ``context`` the current one, replacing any previous series."""
        self.info.clear()
        self.info.labels(context.scenario, context.mode, str(context.workers), context.phase).set(1)
        self.burst_active.set(1 if context.phase == BURST_PHASE else 0)
        self.phase_started.set(now)
        self.current = context

    def clear(self) -> None:
        """No experiment is running."""
        self.info.clear()
        self.burst_active.set(0)
        self.phase_started.set(0)
        self.current = None
