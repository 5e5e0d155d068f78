"""The experiment context: validated, and exposed as one series at a time."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from producer.experiment_context import ContextError, ExperimentContext, ExperimentMetrics


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
