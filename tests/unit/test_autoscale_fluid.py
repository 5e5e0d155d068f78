"""The fluid model: backlog against time-varying capacity, and the policy's replicas in it."""

from __future__ import annotations

import pytest

from burstlab.autoscale import AutoscalePolicy
from burstlab.autoscale.fluid import FluidInput, fixed_policy, simulate


def _burst(size: int, at_s: float, window_s: float, duration_s: float) -> tuple[float, ...]:
    return tuple(at_s + window_s * i / size for i in range(size))


POLICY = AutoscalePolicy(
    min_replicas=1,
    max_replicas=4,
    target_backlog_per_replica=10,
    polling_interval_s=1.0,
    scale_up_stabilization_s=0,
    scale_down_stabilization_s=5,
    scale_up_max_step=4,
    scale_down_max_step=4,
    step_period_s=1,
    replica_concurrency=2,
)


def test_a_fixed_pool_drains_a_burst_at_its_capacity() -> None:
    # Given 200 jobs at once and 2 processes serving 10 jobs/s each (S = 0.1 s)
    data = FluidInput(_burst(200, 1.0, 0.001, 1.0), 0.1, 5.0, burst_window=(1.0, 1.001))
    result = simulate(fixed_policy(POLICY, 1), data)
    # Then the backlog peaks at the burst size and drains in 200 / 20 = 10 s
    assert result.peak_backlog == pytest.approx(200, abs=1)
    assert result.drain_s == pytest.approx(10.0, rel=0.05)
    # And the last job waited about that long: p99 near 9.9 s
    assert result.p99_ms == pytest.approx(9900, rel=0.05)
    # And the cost is 2 processes for the whole run
    assert result.worker_seconds == pytest.approx(2 * result.end_s, rel=0.01)
    assert result.first_scale_up_s is None


def test_light_load_waits_only_the_service_time() -> None:
    arrivals = tuple(i * 0.5 for i in range(20))  # 2 jobs/s against 20 jobs/s of capacity
    result = simulate(fixed_policy(POLICY, 1), FluidInput(arrivals, 0.1, 10.0))
    assert result.p99_ms == pytest.approx(100, rel=0.1)
    assert result.peak_backlog < 2


def test_the_policy_scales_up_at_the_first_poll_after_the_burst_and_drains_faster() -> None:
    data = FluidInput(_burst(200, 1.0, 0.001, 1.0), 0.1, 5.0, burst_window=(1.0, 1.001))
    fixed = simulate(fixed_policy(POLICY, 1), data)
    scaled = simulate(POLICY, data)
    assert scaled.first_scale_up_s == pytest.approx(1.0, abs=0.06)
    assert scaled.peak_replicas == 4
    assert scaled.drain_s is not None and fixed.drain_s is not None
    # 4 replicas from ~2 s on: 8 processes, 80 jobs/s
    assert scaled.drain_s < fixed.drain_s / 2
    assert scaled.worker_seconds < simulate(fixed_policy(POLICY, 4), data).worker_seconds


def test_a_start_delay_postpones_full_capacity_and_raises_the_peak() -> None:
    arrivals = _burst(600, 1.0, 6.0, 10.0)
    quick = simulate(POLICY, FluidInput(arrivals, 0.1, 10.0, burst_window=(1.0, 7.0)))
    slow = simulate(
        POLICY, FluidInput(arrivals, 0.1, 10.0, burst_window=(1.0, 7.0), start_delay_s=3.0)
    )
    assert quick.full_capacity_s is not None and slow.full_capacity_s is not None
    assert slow.full_capacity_s == pytest.approx(quick.full_capacity_s + 3.0, abs=0.1)
    assert slow.peak_backlog > quick.peak_backlog


def test_the_queued_metric_sees_less_than_queued_plus_reserved() -> None:
    # 12 jobs with 2 processes: queued is 10 (no scale-up at target 10), backlog 12 is
    arrivals = _burst(12, 0.5, 0.001, 5.0)
    data = FluidInput(arrivals, 10.0, 5.0, burst_window=(0.5, 0.501))
    queued = simulate(POLICY, data)
    reserved = simulate(AutoscalePolicy(**{**POLICY.__dict__, "metric": "queued+reserved"}), data)
    assert queued.peak_replicas == 1
    assert reserved.peak_replicas == 2


def test_a_non_positive_service_time_is_refused() -> None:
    with pytest.raises(ValueError, match="service_s"):
        FluidInput((0.0,), 0.0, 1.0)


def test_measured_service_times_set_each_jobs_own_latency_under_light_load() -> None:
    # Given light load and a task whose measured service times vary (mean 0.1 s, one in ten 0.4 s)
    arrivals = tuple(i * 0.5 for i in range(100))
    samples = (0.4, *([0.6 / 9] * 9))
    varied = simulate(
        fixed_policy(POLICY, 1), FluidInput(arrivals, 0.1, 50.0, service_samples_s=samples)
    )
    plain = simulate(fixed_policy(POLICY, 1), FluidInput(arrivals, 0.1, 50.0))
    # Then no job waits, so p99 is the slow jobs' own 400 ms and p50 the fast ones', not S
    assert varied.p99_ms == pytest.approx(400, rel=0.02)
    assert varied.p50_ms == pytest.approx(1000 * 0.6 / 9, rel=0.02)
    assert plain.p99_ms == pytest.approx(100, rel=0.02)
    # And the queue itself (capacity from the mean) is the same
    assert varied.peak_backlog == plain.peak_backlog and varied.end_s == plain.end_s


def test_measured_service_times_leave_a_bursts_drain_to_the_mean() -> None:
    # (capacity comes from S, the samples' mean: the burst drains as fast as with S alone)
    data = dict(burst_window=(1.0, 1.001))
    arrivals = _burst(200, 1.0, 0.001, 1.0)
    varied = simulate(
        fixed_policy(POLICY, 1),
        FluidInput(arrivals, 0.1, 5.0, service_samples_s=(0.15, 0.05), **data),
    )
    plain = simulate(fixed_policy(POLICY, 1), FluidInput(arrivals, 0.1, 5.0, **data))
    assert varied.drain_s == plain.drain_s and varied.peak_backlog == plain.peak_backlog


def test_negative_service_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="service_samples_s"):
        FluidInput((0.0,), 0.1, 1.0, service_samples_s=(0.1, -0.01))
