"""Arrival schedules: counts and times per pattern, and the same seed giving the same schedule."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from burstlab.scenario.arrivals import (
    BurstArrival,
    PoissonArrival,
    RampArrival,
    SineArrival,
    SteadyArrival,
    Step,
    StepArrival,
)
from burstlab.scenario.schedule import (
    arrival_offsets,
    build_schedule,
    draw_duration_ms,
    expected_count,
)
from burstlab.scenario.spec import JobMix, Scenario

IO = (JobMix("io", 50.0),)


def _times(arrival: object, seed: int = 1) -> list[float]:
    return [t for t, _ in arrival_offsets(arrival, random.Random(seed))]  # type: ignore[arg-type]


def _count_between(times: list[float], start: float, end: float) -> int:
    return sum(start <= t < end for t in times)


def test_steady_sends_evenly_paced_jobs_for_the_duration() -> None:
    # Given 10 jobs/s for 3 s, When the offsets are built
    times = _times(SteadyArrival(rate=10, duration_s=3))
    # Then there are 30, one every 100 ms from 0
    assert len(times) == 30
    assert times == pytest.approx([k / 10 for k in range(30)])


def test_poisson_sends_about_rate_times_duration_with_exponential_gaps() -> None:
    # Given 200 jobs/s for 20 s (mean 4000, sd 63)
    times = _times(PoissonArrival(rate=200, duration_s=20), seed=5)
    # Then the count is within 4 sd, all inside the run, with mean gap 1/rate and CV ~ 1
    assert abs(len(times) - 4000) < 4 * 63
    assert times[0] > 0 and times[-1] < 20 and times == sorted(times)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.fmean(gaps) == pytest.approx(1 / 200, rel=0.05)
    assert statistics.pstdev(gaps) / statistics.fmean(gaps) == pytest.approx(1.0, abs=0.07)


def test_a_burst_at_once_puts_all_its_jobs_at_one_instant_over_the_base_rate() -> None:
    # Given 200 jobs at t = 1 s over 2 jobs/s for 3 s
    scenario = Scenario("b", "-", IO, BurstArrival(size=200, at_s=1.0, duration_s=3.0, base_rate=2))
    # When the schedule is built
    schedule = build_schedule(scenario, seed=3)
    burst = [item for item in schedule.items if item.in_burst]
    # Then 200 burst jobs sit at exactly 1 s and 6 base jobs are paced around them
    assert schedule.offered == 206 == expected_count(scenario.arrival)
    assert len(burst) == 200 and {item.offset_s for item in burst} == {1.0}
    assert [i.offset_s for i in schedule.items if not i.in_burst] == [0, 0.5, 1, 1.5, 2, 2.5]
    assert schedule.burst_window == (1.0, 1.0)


def test_a_burst_with_a_window_spreads_its_jobs_evenly_across_it() -> None:
    # Given 100 jobs spread over 0.5 s from t = 2 s, with no base traffic
    scenario = Scenario("b", "-", IO, BurstArrival(100, at_s=2.0, duration_s=3.0, window_s=0.5))
    # When the schedule is built
    schedule = build_schedule(scenario)
    offsets = [item.offset_s for item in schedule.items]
    # Then they are evenly spaced 5 ms apart inside [2, 2.5)
    assert offsets == pytest.approx([2.0 + i * 0.005 for i in range(100)])
    assert all(item.in_burst for item in schedule.items)
    assert schedule.burst_window == (2.0, 2.5)


def test_steps_send_at_each_steps_rate_including_a_pause() -> None:
    # Given 10/s for 2 s, a 1 s pause, then 30/s for 1 s
    times = _times(StepArrival((Step(10, 2), Step(0, 1), Step(30, 1))))
    # Then each segment holds rate x duration jobs
    assert len(times) == 50
    assert _count_between(times, 0, 2) == 20
    assert _count_between(times, 2, 3) == 0
    assert _count_between(times, 3, 4) == 30


@pytest.mark.parametrize(("start", "end"), [(10, 50), (50, 10), (0, 20), (30, 30)])
def test_a_paced_ramp_sends_exactly_the_integral_of_its_rate(start: float, end: float) -> None:
    # Given a linear ramp over 10 s, When its offsets are built
    ramp = RampArrival(start_rate=start, end_rate=end, duration_s=10)
    times = _times(ramp)
    # Then the count is the integral (start + end) / 2 x 10, and the first half holds its share
    assert len(times) == (start + end) / 2 * 10 == expected_count(ramp)
    first_half = start * 5 + (end - start) / 10 * 25 / 2
    assert abs(_count_between(times, 0, 5) - first_half) <= 1
    assert times == sorted(times) and times[-1] < 10


def test_a_poisson_ramp_averages_the_integral_over_seeds() -> None:
    # Given a Poisson ramp 10 -> 50 over 10 s (integral 300)
    ramp = RampArrival(10, 50, 10, process="poisson")
    # When 40 schedules are drawn, Then their mean count is 300 within 2 %
    counts = [len(_times(ramp, seed)) for seed in range(40)]
    assert statistics.fmean(counts) == pytest.approx(300, rel=0.02)
    assert len(set(counts)) > 1


def test_a_sine_sends_more_in_its_high_half_period_and_the_integral_overall() -> None:
    # Given mean 20/s, amplitude 15, period 4 s over two periods
    times = _times(SineArrival(mean_rate=20, amplitude=15, period_s=4, duration_s=8))
    # Then the total is mean x duration and the first half period (sin > 0) holds 20x2 + 15x4/pi
    assert len(times) == 160
    high = 40 + 15 * 4 / math.pi
    assert abs(_count_between(times, 0, 2) - high) <= 1
    assert abs(_count_between(times, 2, 4) - (80 - high)) <= 1


def test_the_same_seed_gives_the_same_schedule_and_another_seed_a_different_one() -> None:
    # Given a Poisson arrival with a random job mix
    mix = (JobMix("io", 50.0, distribution="exponential"), JobMix("cpu", 20.0, weight=0.5))
    scenario = Scenario("p", "-", mix, PoissonArrival(rate=50, duration_s=2))
    # When schedules are built from seeds 1, 1 and 2
    first, again, other = (build_schedule(scenario, seed) for seed in (1, 1, 2))
    # Then equal seeds agree item by item and a different seed does not
    assert first == again
    assert first != other
    assert build_schedule(scenario) == build_schedule(scenario, seed=scenario.seed)


def test_the_job_mix_and_the_arrival_times_are_drawn_independently() -> None:
    # Given one arrival pattern with two mixes, and one mix with two Poisson rates
    arrival = PoissonArrival(rate=50, duration_s=2)
    random_io = (JobMix("io", 50.0, distribution="exponential"),)
    io_only = build_schedule(Scenario("a", "-", random_io, arrival), seed=9)
    mixed = build_schedule(Scenario("b", "-", (*random_io, JobMix("cpu", 5.0)), arrival), seed=9)
    faster = build_schedule(Scenario("c", "-", random_io, PoissonArrival(60, 2)), seed=9)
    # Then the mix does not move the offsets, and the rate does not change the drawn durations
    assert [i.offset_s for i in io_only.items] == [i.offset_s for i in mixed.items]
    first = [i.duration_ms for i in io_only.items[:50]]
    assert first == [i.duration_ms for i in faster.items[:50]]


def test_mix_weights_choose_kinds_in_proportion() -> None:
    # Given io weighted 3 and cpu weighted 1 over 4000 paced sends
    mix = (JobMix("io", 10.0, weight=3), JobMix("cpu", 10.0, weight=1))
    schedule = build_schedule(Scenario("w", "-", mix, SteadyArrival(400, 10)), seed=4)
    # Then about a quarter are cpu
    cpu = sum(item.kind == "cpu" for item in schedule.items) / schedule.offered
    assert cpu == pytest.approx(0.25, abs=0.03)


@pytest.mark.parametrize(
    "job",
    [
        JobMix("io", 40.0, distribution="exponential"),
        JobMix("io", 40.0, distribution="lognormal", sigma=0.5),
        JobMix("io", 40.0, distribution="uniform", min_ms=20.0, max_ms=60.0),
    ],
)
def test_random_durations_have_the_configured_mean(job: JobMix) -> None:
    # Given a random duration distribution with mean 40 ms, When 20000 are drawn
    rng = random.Random(2)
    draws = [draw_duration_ms(job, rng) for _ in range(20000)]
    # Then their mean is 40 ms within 3 %, and uniform stays inside its bounds
    assert statistics.fmean(draws) == pytest.approx(40.0, rel=0.03)
    assert min(draws) >= 0 and len(set(draws)) > 100
    if job.distribution == "uniform":
        assert min(draws) >= 20.0 and max(draws) <= 60.0


def test_drawn_durations_are_capped_at_the_producers_limit() -> None:
    # Given a heavy lognormal tail with a 50 s mean, When many are drawn
    job = JobMix("io", 50_000.0, distribution="lognormal", sigma=2.0)
    rng = random.Random(0)
    # Then none exceeds the producer's 60 s limit
    assert max(draw_duration_ms(job, rng) for _ in range(2000)) == 60_000.0
