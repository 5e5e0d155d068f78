"""Queueing predictions: known Erlang values, burst drain formulas, agreement with simulation."""

from __future__ import annotations

import heapq
import math
import random
import statistics

import pytest

from burstlab.experiments.model.theory import (
    TheoryInputs,
    burst_drain_exponential,
    burst_drain_fixed,
    burst_finish_times_fixed,
    burst_latency_percentile_fixed,
    burst_mean_latency,
    deviation,
    erlang_b,
    erlang_c,
    harmonic,
    is_flagged,
    predict,
    theory_inputs,
    wait_percentile,
)
from burstlab.scenario.spec import load_scenario


def _simulate_burst(burst: int, servers: int, mean_s: float, rng: random.Random) -> list[float]:
    """Finish times of a FIFO burst on ``servers`` with exponential service."""
    free_at = [0.0] * servers
    finishes = []
    for _ in range(burst):
        start = heapq.heappop(free_at)
        finish = start + rng.expovariate(1 / mean_s)
        heapq.heappush(free_at, finish)
        finishes.append(finish)
    return finishes


def _simulate_mmc_mean_wait(
    rate: float, servers: int, mean_s: float, jobs: int, seed: int
) -> float:
    """Mean FCFS wait in M/M/c: each arrival takes the earliest-free server."""
    rng = random.Random(seed)
    free_at = [0.0] * servers
    now, total_wait = 0.0, 0.0
    for _ in range(jobs):
        now += rng.expovariate(rate)
        start = max(now, heapq.heappop(free_at))
        total_wait += start - now
        heapq.heappush(free_at, start + rng.expovariate(1 / mean_s))
    return total_wait / jobs


def test_erlang_c_matches_known_values() -> None:
    # Given c = 2, lambda = 1, mu = 1 (a = 1), Then C = 1/3; and B(1, 1) = 1/2, B(2, 1) = 1/5
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.95])
def test_erlang_c_with_one_server_is_the_utilization(rho: float) -> None:
    # Given a single server, Then the probability of waiting is rho
    assert erlang_c(1, rho) == pytest.approx(rho)


def test_erlang_c_stays_finite_for_hundreds_of_servers() -> None:
    # Given 500 servers at 98 % load (factorials would overflow), When C is computed
    value = erlang_c(500, 490.0)
    # Then it is a probability, and more load means more waiting
    assert 0 < value < 1
    assert erlang_c(500, 480.0) < value


def test_an_overloaded_system_is_reported_unstable_without_dividing_by_zero() -> None:
    # Given arrivals exactly at capacity, When predicted
    theory = predict(TheoryInputs(workers=2, service_s=0.5, arrival_rate=4.0))
    # Then it is unstable with utilization 1 and no steady-state wait
    assert theory.stable is False and theory.utilization == 1.0
    assert theory.mean_wait_s is None
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(2, 2.0)


def test_fixed_burst_drain_is_ceil_b_over_n_times_s() -> None:
    # Given 50 ms jobs, Then 200 on 4 workers take 2.5 s and one more job adds a round
    assert burst_drain_fixed(200, 4, 0.05) == pytest.approx(2.5)
    assert burst_drain_fixed(201, 4, 0.05) == pytest.approx(2.55)
    assert burst_drain_fixed(3, 4, 0.05) == pytest.approx(0.05)


def test_fixed_burst_latencies_finish_in_rounds_of_n() -> None:
    # Given 10 jobs of 1 s on 2 workers, Then they finish in pairs at 1..5 s
    assert burst_finish_times_fixed(10, 2, 1.0) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert burst_mean_latency(10, 2, 1.0) == pytest.approx(3.0)
    assert burst_latency_percentile_fixed(10, 2, 1.0, 50) == 3.0
    assert burst_latency_percentile_fixed(10, 2, 1.0, 99) == 5.0


def test_exponential_drain_with_no_more_jobs_than_servers_is_the_harmonic_maximum() -> None:
    # Given 3 exponential jobs (mean 2 s) on 4 servers, Then the drain is H_3 x 2 s
    assert burst_drain_exponential(3, 4, 2.0) == pytest.approx((1 + 1 / 2 + 1 / 3) * 2)
    assert harmonic(0) == 0.0
    assert burst_drain_exponential(0, 4, 2.0) == 0.0


@pytest.mark.parametrize(("burst", "servers"), [(60, 4), (3, 4), (40, 1)])
def test_simulated_exponential_bursts_drain_as_predicted(burst: int, servers: int) -> None:
    # Given 3000 simulated exponential bursts (mean service 1 s)
    rng = random.Random(burst * 100 + servers)
    runs = [_simulate_burst(burst, servers, 1.0, rng) for _ in range(3000)]
    # When the mean drain and mean latency are measured
    drain = statistics.fmean(max(finishes) for finishes in runs)
    latency = statistics.fmean(statistics.fmean(finishes) for finishes in runs)
    # Then both agree with the formulas within 3 %
    assert drain == pytest.approx(burst_drain_exponential(burst, servers, 1.0), rel=0.03)
    assert latency == pytest.approx(
        burst_mean_latency(burst, servers, 1.0, "exponential"), rel=0.03
    )


def test_simulated_mmc_mean_wait_agrees_with_erlang_c() -> None:
    # Given M/M/2 at 70 % load (lambda = 1.4, mu = 1), When 200000 customers are simulated
    measured = _simulate_mmc_mean_wait(rate=1.4, servers=2, mean_s=1.0, jobs=200_000, seed=11)
    theory = predict(TheoryInputs(2, 1.0, "exponential", "poisson", arrival_rate=1.4))
    # Then the mean wait matches C / (N mu - lambda) within 5 %
    assert theory.mean_wait_s == pytest.approx(erlang_c(2, 1.4) / 0.6)
    assert measured == pytest.approx(theory.mean_wait_s, rel=0.05)


def test_steady_state_predictions_satisfy_littles_law_and_the_wait_tail() -> None:
    # Given M/M/3 at lambda = 2, S = 1 s
    theory = predict(TheoryInputs(3, 1.0, "exponential", "poisson", arrival_rate=2.0))
    assert theory.p_wait is not None and theory.wait_p99_s is not None
    assert theory.mean_wait_s is not None
    # Then L from Erlang C equals lambda x W, and P(W > p99) is 1 %
    assert theory.mean_in_system == pytest.approx(theory.littles_law_in_system)
    assert theory.mean_response_s == pytest.approx(theory.mean_wait_s + 1.0)
    assert theory.utilization == pytest.approx(2 / 3) and theory.capacity_per_s == 3.0
    assert theory.p_wait * math.exp(-(3 - 2) * theory.wait_p99_s) == pytest.approx(0.01)
    assert wait_percentile(0.005, 1.0, 99) == 0.0
    # And M/M/1 at rho = 0.5 waits rho / (mu - lambda) = 1 s on average
    mm1 = predict(TheoryInputs(1, 1.0, "exponential", "poisson", arrival_rate=0.5))
    assert mm1.mean_wait_s == pytest.approx(1.0)


def test_deterministic_service_halves_the_mm_c_wait() -> None:
    # Given the same load with fixed instead of exponential service
    exponential = predict(TheoryInputs(2, 1.0, "exponential", "poisson", arrival_rate=1.4))
    fixed = predict(TheoryInputs(2, 1.0, "fixed", "poisson", arrival_rate=1.4))
    # Then the Allen-Cunneen mean wait is half, and no exponential tail percentile is claimed
    assert fixed.mean_wait_s == pytest.approx(exponential.mean_wait_s / 2)  # type: ignore[operator]
    assert fixed.wait_p99_s is None


def test_base_traffic_arriving_during_the_drain_lengthens_it() -> None:
    # Given 200 fixed 50 ms jobs on 1 worker, alone, under 2 jobs/s of endless base traffic,
    # and under base traffic that stops 2 s after the burst
    plain = predict(TheoryInputs(1, 0.05, burst_size=200))
    endless = predict(TheoryInputs(1, 0.05, burst_size=200, arrival_rate=2.0))
    stopping = predict(TheoryInputs(1, 0.05, burst_size=200, arrival_rate=2.0, base_window_s=2.0))
    # Then the drain is 10 s alone, and the base jobs of the fluid drain 10 / 0.9 s (22) or of
    # the 2 s window (4) each add 50 ms
    assert plain.burst_drain_s == pytest.approx(10.0)
    assert endless.burst_drain_s == pytest.approx(222 * 0.05)
    assert stopping.burst_drain_s == pytest.approx(204 * 0.05)
    assert stopping.burst_p99_latency_s == pytest.approx(9.9)
    assert predict(TheoryInputs(1, 0.05, burst_size=200, arrival_rate=20.0)).burst_drain_s is None


def test_theory_inputs_follow_the_scenario() -> None:
    # Given the shipped burst and steady scenarios
    burst = theory_inputs(load_scenario("burst"), workers=4, service_s=0.052)
    steady = theory_inputs(load_scenario("steady-under-capacity"), workers=2, service_s=0.05)
    # Then the burst size and base rate, and the steady Poisson rate, are carried over
    assert (burst.burst_size, burst.arrival_rate, burst.service_model) == (200, 2.0, "fixed")
    assert burst.base_window_s == 2.0
    assert (steady.burst_size, steady.arrival_rate) == (None, 10.0)
    assert (steady.service_model, steady.arrival_model) == ("exponential", "poisson")


def test_deviation_is_relative_and_flagged_past_twenty_percent() -> None:
    # Given a prediction of 2 s, Then 2.5 s is +25 % (flagged) and 1.8 s is -10 % (not)
    assert deviation(2.0, 2.5) == pytest.approx(0.25) and is_flagged(deviation(2.0, 2.5))
    assert deviation(2.0, 1.8) == pytest.approx(-0.1) and not is_flagged(deviation(2.0, 1.8))
    assert math.isnan(deviation(0.0, 1.0)) and is_flagged(deviation(0.0, 1.0))
    assert predict(TheoryInputs(4, 0.05)).to_dict()["capacity_per_s"] == pytest.approx(80.0)
