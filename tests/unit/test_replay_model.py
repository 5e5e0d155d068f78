"""The queue replay: exact on fixed bursts, Erlang C in steady state, replica timelines, bands."""

from __future__ import annotations

import math

import numpy as np
import pytest

from burstlab.experiments.model.replay import Servers, Workload, predict, rank_interval, replay
from burstlab.experiments.model.service import ServiceModel
from burstlab.experiments.model.theory import (
    burst_drain_exponential,
    burst_drain_fixed,
    burst_latency_percentile_fixed,
    burst_mean_latency,
    erlang_c,
)


@pytest.mark.parametrize(("burst", "workers"), [(200, 1), (200, 4), (201, 4), (3, 8), (40, 2)])
def test_a_fixed_service_burst_replays_to_the_closed_form_exactly(burst: int, workers: int) -> None:
    # Given B jobs of S = 62.5 ms (a binary fraction: the sums are exact) arriving at once
    service_s = 0.0625
    load = Workload.of([0.0] * burst)
    # When they are replayed
    result = replay(load, ServiceModel.fixed(service_s), Servers.fixed(workers), replays=3)
    # Then every replay drains in ceil(B/N) S, with the closed forms' mean and percentiles
    assert np.all(result.drain_s == math.ceil(burst / workers) * service_s)
    assert result.drain_s[0] == burst_drain_fixed(burst, workers, service_s)
    assert result.mean_s[0] == pytest.approx(burst_mean_latency(burst, workers, service_s))
    for name, pct in (("p50_s", 50), ("p99_s", 99)):
        expected = burst_latency_percentile_fixed(burst, workers, service_s, pct)
        assert getattr(result, name)[0] == pytest.approx(expected)
    # And the backlog peaks with the whole burst in, N of it running
    assert result.peak_in_system[0] == burst
    assert result.peak_waiting[0] == max(burst - workers, 0)


def test_own_run_times_plus_a_fixed_overhead_add_up_per_job() -> None:
    # Given two servers, jobs of their own lengths and a hand-over of 10 ms each
    load = Workload.of([0.0, 0.0, 0.0, 0.5], job_s=[0.1, 0.3, 0.2, 0.1])
    service = ServiceModel(overhead_s=(0.01,))
    # When replayed
    result = replay(load, service, Servers.fixed(2))
    # Then the third job takes the server the first one frees, the fourth finds one free
    assert result.start_s[0] == pytest.approx([0.0, 0.0, 0.11, 0.5])
    assert result.finish_s[0] == pytest.approx([0.11, 0.31, 0.32, 0.61])


def test_an_mmc_steady_state_replays_to_erlang_c_mean_wait() -> None:
    # Given 150,000 Poisson arrivals at rho 0.5 on 2 servers, exponential service of 1 s
    rng = np.random.default_rng(1)
    servers, mean_s, rate, jobs = 2, 1.0, 1.0, 150_000
    arrivals = np.cumsum(rng.exponential(1 / rate, jobs))
    service = ServiceModel(run_s=tuple(rng.exponential(mean_s, 200_000)))
    # When the run is replayed 16 times
    result = replay(Workload(arrivals), service, Servers.fixed(servers), replays=16, seed=1)
    # Then the mean wait (after the first tenth) is within 3 % of Erlang C's
    warm = jobs // 10
    measured = float((result.start_s[:, warm:] - arrivals[warm:]).mean())
    expected = erlang_c(servers, rate * mean_s) / (servers / mean_s - rate)
    assert measured == pytest.approx(expected, rel=0.03)


def test_servers_that_start_late_take_jobs_from_their_ready_time() -> None:
    # Given four 1 s jobs at once, one server ready at 0 and one that starts at 2.5 s
    load = Workload.of([0.0] * 4)
    late = Servers(ready_s=(0.0, 2.5))
    # When replayed
    result = replay(load, ServiceModel.fixed(1.0), late)
    # Then the first server runs three, the late one takes the fourth when it is ready
    assert result.finish_s[0] == pytest.approx([1.0, 2.0, 3.0, 3.5])
    assert result.drain_s[0] == pytest.approx(3.5)
    # And each server is paid from its ready time to the last finish
    assert result.worker_seconds[0] == pytest.approx(3.5 + 1.0)


def test_a_stopped_server_finishes_its_job_and_starts_no_other() -> None:
    # Given the first server stops at 1.5 s, the second starts at 2.5 s
    load = Workload.of([0.0] * 4)
    servers = Servers(ready_s=(0.0, 2.5), stop_s=(1.5, math.inf))
    # When replayed
    result = replay(load, ServiceModel.fixed(1.0), servers)
    # Then the first server's job running at 1.5 s runs to its end, the rest wait for the second
    assert result.finish_s[0] == pytest.approx([1.0, 2.0, 3.5, 4.5])
    assert result.worker_seconds[0] == pytest.approx(2.0 + 2.0)


def test_the_band_holds_the_median_and_the_closed_form_of_an_exponential_burst() -> None:
    # Given a burst of 200 exponential jobs (mean 50 ms) on 4 servers
    rng = np.random.default_rng(5)
    service = ServiceModel(run_s=tuple(rng.exponential(0.05, 2_000)))
    # When predicted with 200 replays
    prediction = predict(Workload.of([0.0] * 200), service, Servers.fixed(4), seed=9)
    # Then every band is ordered around its median and has a width
    for band in prediction.bands.values():
        assert band.low <= band.median <= band.high
    drain = prediction.bands["drain_s"]
    assert drain.high > drain.low
    # And the expected drain of the closed form lies inside the drain's band
    assert drain.contains(burst_drain_exponential(200, 4, 0.05))


def test_a_few_probes_widen_the_band_over_many() -> None:
    # Given the same service distribution known from 5 samples or from 500
    rng = np.random.default_rng(2)
    many = rng.normal(0.05, 0.01, 500).clip(0.01)
    load = Workload.of([0.0] * 100)

    def width(samples: np.ndarray) -> float:
        band = predict(load, ServiceModel(run_s=tuple(samples)), Servers.fixed(2)).bands
        return band["drain_s"].high - band["drain_s"].low

    # Then the bootstrap's band is wider with fewer samples (how well the probes know S)
    assert width(many[:5]) > width(many)


def test_one_seed_gives_one_answer() -> None:
    service = ServiceModel(run_s=(0.01, 0.05, 0.2), overhead_s=(0.001, 0.004))
    load = Workload.of(np.linspace(0, 2, 50))
    first = predict(load, service, Servers.fixed(3), seed=4)
    assert predict(load, service, Servers.fixed(3), seed=4) == first


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Servers.fixed(0), "at least one server"),
        (lambda: Servers(ready_s=()), "no servers"),
        (lambda: Servers(ready_s=(1.0, 2.0), stop_s=(1.0, 0.5)), "no server ever serves"),
        (lambda: Servers(ready_s=(-1.0,)), "ready times must be finite and >= 0"),
        (lambda: Workload.of([0.0, -0.5]), "arrivals_s: times must be finite and >= 0"),
        (lambda: Workload.of([0.0, math.nan]), "arrivals_s: times must be finite and >= 0"),
        (lambda: Workload.of([]), "at least one job"),
        (lambda: Workload.of([0.0], job_s=[-1.0]), "job_s: times must be finite and >= 0"),
        (lambda: Workload.of([0.0, 1.0], job_s=[1.0]), "job_s has 1 values for 2 jobs"),
        (lambda: ServiceModel(run_s=(0.1, -0.1)), "run_s: service samples must be finite"),
    ],
)
def test_bad_input_is_refused_with_the_reason(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_a_job_after_every_server_stopped_is_refused() -> None:
    servers = Servers(ready_s=(0.0,), stop_s=(1.0,))
    with pytest.raises(ValueError, match="finds every server stopped"):
        replay(Workload.of([0.0, 2.0]), ServiceModel.fixed(0.1), servers)


def test_jobs_without_a_run_time_need_measured_samples() -> None:
    with pytest.raises(ValueError, match="no run time"):
        replay(Workload.of([0.0]), ServiceModel(overhead_s=(0.01,)), Servers.fixed(1))


def test_a_job_that_finds_a_server_free_is_handed_over_at_the_idle_cost() -> None:
    # Given one server, a hand-over of 20 ms under load and 2 ms for a lone job
    service = ServiceModel(overhead_s=(0.020,), idle_overhead_s=(0.002,))
    # And two jobs at once, then one long after
    load = Workload.of([0.0, 0.0, 5.0], job_s=[0.1, 0.1, 0.1])
    # When replayed
    result = replay(load, service, Servers.fixed(1))
    # Then the first and the last start the moment they arrive and take 102 ms; the second
    # waited, and is handed over at the loaded cost
    assert result.finish_s[0] == pytest.approx([0.102, 0.222, 5.102])
    # And without idle samples every job takes the loaded cost, as before
    plain = replay(load, ServiceModel(overhead_s=(0.020,)), Servers.fixed(1))
    assert plain.finish_s[0] == pytest.approx([0.120, 0.240, 5.120])


def test_a_job_that_waited_while_the_burst_arrived_is_handed_over_at_that_cost() -> None:
    # Given one server, a hand-over of 1 ms under load, 3 ms while the burst arrives and
    # 0.5 ms for a lone job; a burst of 4 jobs of 1 ms arriving until 2 ms
    service = ServiceModel(
        overhead_s=(0.001,), idle_overhead_s=(0.0005,), arriving_overhead_s=(0.003,)
    )
    load = Workload.of([0.0, 0.0, 0.002, 0.002], job_s=[0.001] * 4, arriving_until_s=0.002)
    # When replayed
    result = replay(load, service, Servers.fixed(1))
    # Then the first found the server free (1.5 ms), the second waited and started while jobs
    # still arrived (4 ms), the two after it started once they had all come (2 ms each)
    assert result.finish_s[0] == pytest.approx([0.0015, 0.0055, 0.0075, 0.0095])
    # And without the time the burst arrives until, the arriving cost is never used
    plain = replay(
        Workload.of([0.0, 0.0, 0.002, 0.002], job_s=[0.001] * 4), service, Servers.fixed(1)
    )
    assert plain.finish_s[0] == pytest.approx([0.0015, 0.0035, 0.0055, 0.0075])


def test_a_sync_answer_on_its_way_back_counts_in_latency_not_in_the_servers_time() -> None:
    # Given one server, jobs of 1 ms and an answer 2 ms on its way back after each finish
    service = ServiceModel(answer_s=(0.002,))
    load = Workload.of([0.0, 0.0], job_s=[0.001, 0.001])
    # When replayed
    result = replay(load, service, Servers.fixed(1))
    # Then the server takes the second job at the first one's finish, and each latency and
    # the drain end when the answer is back
    assert result.finish_s[0] == pytest.approx([0.001, 0.002])
    assert result.mean_s[0] == pytest.approx((0.003 + 0.004) / 2)
    assert result.drain_s[0] == pytest.approx(0.004)
    assert result.worker_seconds[0] == pytest.approx(0.002)


def test_the_drain_ends_with_the_last_job_it_covers() -> None:
    # Given a burst of four jobs then a trickle that runs on for 10 s
    load = Workload.of(
        [0.0, 0.0, 0.0, 0.0, 5.0, 10.0],
        job_s=[0.5] * 6,
        drained=[True] * 4 + [False] * 2,
    )
    # When replayed on two servers
    result = replay(load, ServiceModel(), Servers.fixed(2))
    # Then the drain is the burst's (two rounds of 0.5 s), not the trickle's end
    assert result.drain_s[0] == pytest.approx(1.0)
    assert replay(Workload.of(load.arrivals_s, job_s=[0.5] * 6), ServiceModel(), Servers.fixed(2)
                  ).drain_s[0] == pytest.approx(10.5)  # fmt: skip


def test_a_drain_covering_no_job_is_refused() -> None:
    with pytest.raises(ValueError, match="drained must mark at least one"):
        Workload.of([0.0, 1.0], drained=[False, False])


def test_a_latency_is_read_as_a_rank_of_the_replayed_ones() -> None:
    # Given 100 jobs on one server, each 10 ms: latencies 10, 20, ... 1000 ms
    prediction = predict(
        Workload.of([0.0] * 100, job_s=[0.01] * 100), ServiceModel(), Servers.fixed(1), replays=3
    )
    # Then a latency of 505 ms is the replay's p50, beyond every one p100, below all p0
    assert prediction.rank(0.505) == pytest.approx(50.0)
    assert prediction.rank(0.255) == pytest.approx(25.0)
    assert prediction.rank(2.0) == 100.0 and prediction.rank(0.0) == 0.0


def test_a_percentile_of_fewer_jobs_is_pinned_to_a_wider_range_of_ranks() -> None:
    # The 90 % interval of the rank a percentile of n jobs is read at
    assert rank_interval(50.0, 200) == pytest.approx((44.18, 55.82), abs=0.01)
    assert rank_interval(50.0, 20_000) == pytest.approx((49.42, 50.58), abs=0.01)
    # (a p99 of 200 jobs may be the slowest job of all)
    assert rank_interval(99.0, 200) == pytest.approx((97.84, 100.0), abs=0.01)
