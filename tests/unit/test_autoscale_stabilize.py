"""The HPA decision at each poll: stabilisation windows and step limits, on a given clock."""

from __future__ import annotations

from burstlab.autoscale import AutoscalePolicy
from burstlab.autoscale.stabilize import Stabilizer


def _policy(**overrides: int | float | str) -> AutoscalePolicy:
    base: dict[str, int | float | str] = {
        "min_replicas": 1,
        "max_replicas": 10,
        "target_backlog_per_replica": 10,
        "polling_interval_s": 1.0,
        "scale_up_stabilization_s": 0,
        "scale_down_stabilization_s": 0,
        "scale_up_max_step": 100,
        "scale_down_max_step": 100,
        "step_period_s": 15,
    }
    base.update(overrides)
    return AutoscalePolicy(**base)  # type: ignore[arg-type]


def test_without_windows_or_limits_the_count_follows_the_formula_at_once() -> None:
    stabilizer = Stabilizer(_policy())
    assert stabilizer.decide(0, 45, 1).desired == 5
    assert stabilizer.decide(1, 5, 5).desired == 1


def test_scale_down_waits_for_the_maximum_over_the_down_window() -> None:
    # Given a 10 s down window and a backlog that asked for 5 replicas at t = 0
    stabilizer = Stabilizer(_policy(scale_down_stabilization_s=10))
    assert stabilizer.decide(0, 50, 1).desired == 5
    # When the backlog vanishes, the count holds while the 5 is inside the window
    assert stabilizer.decide(5, 0, 5).desired == 5
    assert stabilizer.decide(10, 0, 5).desired == 5
    # Then it drops once the recommendation of 5 has left the window
    assert stabilizer.decide(11, 0, 5).desired == 1


def test_scale_up_goes_only_to_the_minimum_over_the_up_window() -> None:
    # Given a 4 s up window with a low recommendation at t = 0
    stabilizer = Stabilizer(_policy(scale_up_stabilization_s=4))
    assert stabilizer.decide(0, 10, 1).desired == 1
    # A spike inside the window does not scale up
    assert stabilizer.decide(2, 80, 1).desired == 1
    # Once every recommendation in the window is high, it scales to the lowest of them
    assert stabilizer.decide(5, 90, 1).desired == 8


def test_scale_up_adds_at_most_max_step_replicas_per_period() -> None:
    stabilizer = Stabilizer(_policy(scale_up_max_step=2, step_period_s=5))
    assert stabilizer.decide(0, 100, 1).desired == 3
    # Still inside the period: no more replicas may be added
    assert stabilizer.decide(2, 100, 3).desired == 3
    # After the period, two more
    assert stabilizer.decide(5.5, 100, 3).desired == 5


def test_scale_down_removes_at_most_max_step_replicas_per_period() -> None:
    stabilizer = Stabilizer(_policy(scale_down_max_step=1, step_period_s=5))
    assert stabilizer.decide(0, 0, 6).desired == 5
    assert stabilizer.decide(1, 0, 5).desired == 5
    assert stabilizer.decide(6, 0, 5).desired == 4


def test_the_count_stays_within_min_and_max() -> None:
    stabilizer = Stabilizer(_policy(min_replicas=2, max_replicas=4))
    assert stabilizer.decide(0, 1000, 2).desired == 4
    assert stabilizer.decide(1, 0, 4).desired == 2


def test_a_decision_records_the_metric_the_raw_and_the_current_count() -> None:
    decision = Stabilizer(_policy(scale_up_max_step=1)).decide(3.0, 42, 2)
    assert (decision.at_s, decision.metric, decision.raw, decision.desired, decision.current) == (
        3.0,
        42,
        5,
        3,
        2,
    )
