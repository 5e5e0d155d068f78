"""Experiment context: which scenario, mode, worker count and phase a load run is in.

The experiment runner tells the producer (``PUT /experiment``) at each phase change; the
producer exposes it as metrics, so Prometheus and Grafana show when each burst hit:

- ``burstlab_experiment_info{scenario, mode, workers, phase} 1`` for the current context
  (one series at a time: the previous one is removed);
- ``burstlab_experiment_burst_active`` 1 while ``phase`` is ``burst``, else 0;
- ``burstlab_experiment_phase_started_timestamp_seconds`` when the current phase began;
- during a sweep step (the context has ``rho``): ``burstlab_experiment_step_info{scenario,
  mode, workers, rho, phase} 1``, ``burstlab_experiment_offered_jobs_per_second`` (the rate the
  step offers) and ``burstlab_experiment_slo_p99_seconds`` (the scenario's p99 SLO), both 0
  outside a step. Recording rules join the step's labels onto throughput and latency, so a
  dashboard draws one point per step.

The model and its gauges only: the HTTP handlers are in :mod:`producer.context_handlers`, and
a runner sets the context through :mod:`burstlab.client`.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

BURST_PHASE = "burst"
CONTEXT_MODES = ("sync", "async", "mixed")
MAX_WORKERS = 10_000
MAX_RHO = 100.0
MAX_OFFERED_RATE = 1_000_000.0
MAX_SLO_S = 86_400.0
MEASURED_PHASE = "step"
"""The phase of a sweep step whose jobs count (after its warm-up); recording rules select it."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FIELDS = ("scenario", "mode", "workers", "phase")
_STEP_FIELDS = ("rho", "offered_rate", "slo_p99_s")
"""Optional: a sweep step's utilisation, the rate it offers (jobs/s) and the p99 SLO (s)."""


class ContextError(ValueError):
    """A context field is missing or not acceptable; ``field`` names it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


@dataclass(frozen=True, slots=True)
class StepContext:
    """What a sweep step adds to the context: its rho, the rate it offers, the SLO."""

    rho: float
    offered_rate: float | None = None
    slo_p99_s: float | None = None


@dataclass(frozen=True, slots=True)
class ExperimentContext:
    """One phase of one run: labels short and bounded (a name, not a free text)."""

    scenario: str
    mode: str
    workers: int
    phase: str
    rho: float | None = None
    offered_rate: float | None = None
    slo_p99_s: float | None = None

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
        _check_number("rho", self.rho, 0.0, MAX_RHO, low_included=False)
        _check_number("offered_rate", self.offered_rate, 0.0, MAX_OFFERED_RATE)
        _check_number("slo_p99_s", self.slo_p99_s, 0.0, MAX_SLO_S, low_included=False)

    @property
    def rho_label(self) -> str:
        """``rho`` as a label value ("0.7"), empty when this is not a sweep step."""
        return "" if self.rho is None else f"{self.rho:g}"

    def to_body(self) -> dict[str, Any]:
        """The JSON object of this context (optional fields only when set)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def of(
        cls, scenario: str, mode: str, workers: int, phase: str, step: StepContext | None = None
    ) -> ExperimentContext:
        """A context, with a sweep step's fields when ``step`` is given."""
        if step is None:
            return cls(scenario, mode, workers, phase)
        return cls(scenario, mode, workers, phase, step.rho, step.offered_rate, step.slo_p99_s)

    @classmethod
    def from_body(cls, body: object) -> ExperimentContext:
        """Validate a decoded JSON object: the four fields, and a sweep step's optional ones."""
        if not isinstance(body, dict):
            raise ContextError("body", "the body must be a JSON object")
        unknown = sorted(set(body) - set(_FIELDS) - set(_STEP_FIELDS))
        if unknown:
            raise ContextError(unknown[0], f"unknown field {unknown[0]!r}")
        missing = [f for f in _FIELDS if f not in body]
        if missing:
            raise ContextError(missing[0], f"field {missing[0]!r} is required")
        return cls(**body)


def _check_number(
    field: str, value: object, low: float, high: float, *, low_included: bool = True
) -> None:
    if value is None:
        return
    above = f">= {low:g}" if low_included else f"> {low:g}"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not (value >= low if low_included else value > low)
        or value > high
    ):
        raise ContextError(field, f"field {field!r} must be a number {above} and <= {high:g}")


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
        self.step_info = Gauge(
            "burstlab_experiment_step_info",
            "The sweep step now running (1), labelled with its utilisation rho and phase.",
            ["scenario", "mode", "workers", "rho", "phase"],
            registry=registry,
        )
        self.offered_rate = Gauge(
            "burstlab_experiment_offered_jobs_per_second",
            "The rate the current sweep step offers, jobs/s (0 outside a step).",
            registry=registry,
        )
        self.slo_p99 = Gauge(
            "burstlab_experiment_slo_p99_seconds",
            "The current sweep's p99 latency SLO, seconds (0 when none is set).",
            registry=registry,
        )
        self.current: ExperimentContext | None = None

    def set(self, context: ExperimentContext, now: float) -> None:
        """Make ``context`` the current one, replacing any previous series."""
        self.info.clear()
        self.step_info.clear()
        workers = str(context.workers)
        self.info.labels(context.scenario, context.mode, workers, context.phase).set(1)
        if context.rho is not None:
            self.step_info.labels(
                context.scenario, context.mode, workers, context.rho_label, context.phase
            ).set(1)
        self.offered_rate.set(context.offered_rate or 0.0)
        self.slo_p99.set(context.slo_p99_s or 0.0)
        self.burst_active.set(1 if context.phase == BURST_PHASE else 0)
        self.phase_started.set(now)
        self.current = context

    def clear(self) -> None:
        """No experiment is running."""
        self.info.clear()
        self.step_info.clear()
        self.offered_rate.set(0)
        self.slo_p99.set(0)
        self.burst_active.set(0)
        self.phase_started.set(0)
        self.current = None
