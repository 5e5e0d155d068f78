"""The experiment context: validated, and exposed as one series at a time."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from burstlab.jobs.experiment_context import (
    ContextError,
    ExperimentContext,
    ExperimentMetrics,
    StepContext,
)


def test_a_new_phase_replaces_the_previous_series_and_marks_bursts() -> None:
    # Given experiment metrics
    registry = CollectorRegistry()
    metrics = ExperimentMetrics(registry)
    labels = {"scenario": "burst", "mode": "async", "workers": "4"}
    # When the runner enters the burst, then the drain
    metrics.set(ExperimentContext("burst", "async", 4, "burst"), now=100.0)
    in_burst = registry.get_sample_value("burstlab_experiment_burst_active")
    metrics.set(ExperimentContext("burst", "async", 4, "drain"), now=130.0)
    # Then the burst was flagged, and only the drain's series is left, with its start time
    assert in_burst == 1
    assert registry.get_sample_value("burstlab_experiment_burst_active") == 0
    info = "burstlab_experiment_info"
    assert registry.get_sample_value(info, {**labels, "phase": "burst"}) is None
    assert registry.get_sample_value(info, {**labels, "phase": "drain"}) == 1
    assert registry.get_sample_value("burstlab_experiment_phase_started_timestamp_seconds") == 130
    # When it is cleared, Then no info series is left
    metrics.clear()
    assert registry.get_sample_value(info, {**labels, "phase": "drain"}) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scenario": "a b", "mode": "sync", "workers": 1, "phase": "burst"}, "scenario"),
        ({"scenario": "x" * 65, "mode": "sync", "workers": 1, "phase": "burst"}, "scenario"),
        ({"scenario": "s", "mode": "both", "workers": 1, "phase": "burst"}, "mode"),
        ({"scenario": "s", "mode": "sync", "workers": True, "phase": "burst"}, "workers"),
        ({"scenario": "s", "mode": "sync", "workers": -1, "phase": "burst"}, "workers"),
        ({"scenario": "s", "mode": "sync", "workers": 1, "phase": "{bad}"}, "phase"),
        ({"scenario": "s", "mode": "sync", "workers": 1}, "phase"),
        ({"scenario": "s", "mode": "sync", "workers": 1, "phase": "p", "run": 1}, "run"),
    ],
)
def test_a_context_with_an_unbounded_or_missing_label_is_refused(
    body: dict[str, object], field: str
) -> None:
    with pytest.raises(ContextError) as caught:
        ExperimentContext.from_body(body)
    assert caught.value.field == field


def test_a_sweep_step_is_exposed_with_its_rho_offered_rate_and_slo_until_the_next_phase() -> None:
    # Given experiment metrics
    registry = CollectorRegistry()
    metrics = ExperimentMetrics(registry)
    step = StepContext(rho=0.7, offered_rate=56.0, slo_p99_s=0.25)
    # When the runner enters the measured part of a step at rho 0.7
    metrics.set(ExperimentContext.of("sweep-io", "async", 4, "step", step), now=10.0)
    labels = {"scenario": "sweep-io", "mode": "async", "workers": "4", "rho": "0.7"}
    # Then the step's series carries rho and the phase, beside the rate and the SLO
    info = "burstlab_experiment_step_info"
    assert registry.get_sample_value(info, {**labels, "phase": "step"}) == 1
    assert registry.get_sample_value("burstlab_experiment_offered_jobs_per_second") == 56
    assert registry.get_sample_value("burstlab_experiment_slo_p99_seconds") == 0.25
    # When a phase without a step follows, Then no step series, rate or SLO is left
    metrics.set(ExperimentContext("sweep-io", "async", 4, "probe"), now=20.0)
    assert registry.get_sample_value(info, {**labels, "phase": "step"}) is None
    assert registry.get_sample_value("burstlab_experiment_offered_jobs_per_second") == 0
    assert registry.get_sample_value("burstlab_experiment_slo_p99_seconds") == 0


def test_a_step_context_round_trips_through_its_json_body_and_a_plain_one_stays_plain() -> None:
    step = ExperimentContext.of("s", "sync", 2, "warmup", StepContext(1.1, 88.0))
    assert ExperimentContext.from_body(step.to_body()) == step
    assert step.to_body() == {
        "scenario": "s", "mode": "sync", "workers": 2, "phase": "warmup",
        "rho": 1.1, "offered_rate": 88.0,
    }  # fmt: skip
    assert set(ExperimentContext("s", "sync", 2, "burst").to_body()) == {
        "scenario",
        "mode",
        "workers",
        "phase",
    }


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"rho": 0}, "rho"),
        ({"rho": -0.5}, "rho"),
        ({"rho": "0.7"}, "rho"),
        ({"rho": float("nan")}, "rho"),
        ({"rho": 1000}, "rho"),
        ({"offered_rate": -1}, "offered_rate"),
        ({"offered_rate": True}, "offered_rate"),
        ({"slo_p99_s": 0}, "slo_p99_s"),
        ({"slo_p99_s": float("inf")}, "slo_p99_s"),
    ],
)
def test_a_step_field_out_of_range_is_refused_naming_it(
    extra: dict[str, object], field: str
) -> None:
    body = {"scenario": "s", "mode": "sync", "workers": 1, "phase": "step", **extra}
    with pytest.raises(ContextError) as caught:
        ExperimentContext.from_body(body)
    assert caught.value.field == field
