"""Sweeps: rho lists and step lengths, M/G/c per step, knee and SLO capacity, the USL fit."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from burstlab.experiments.model.mgc import predict_step, squared_cv
from burstlab.experiments.model.records import JobRow
from burstlab.experiments.sweep.capacity import (
    fit_usl,
    knee_index,
    run_capacity,
    scaling_section,
    slo_capacity,
    usl,
)
from burstlab.experiments.sweep.run import override_sweep
from burstlab.experiments.sweep.steps import StepWindow, summarize_step
from burstlab.scenario.spec import ScenarioError, loads_scenario
from burstlab.scenario.sweep import (
    DEFAULT_RHO,
    MAX_STEP_S,
    MEASURED_JOBS,
    MIN_STEP_S,
    WARMUP_FRACTION,
    SweepArrival,
    parse_rho,
    parse_rho_text,
    step_length_s,
)

SWEEP = """\
name = "s"
workers = [1, 2]

[[job]]
kind = "io"
duration_ms = 50

[arrival]
pattern = "sweep"
{arrival}

[thresholds]
slo_p99_ms = {slo}
"""


def _sweep(arrival: str = "", slo: str = "250") -> str:
    return SWEEP.format(arrival=arrival, slo=slo)


# --- rho lists and validation -------------------------------------------------------------


def test_a_sweep_without_rho_uses_the_default_utilisations_and_chooses_step_lengths() -> None:
    scenario = loads_scenario(_sweep())
    assert scenario.arrival == SweepArrival(DEFAULT_RHO, None, WARMUP_FRACTION)
    assert scenario.thresholds.slo_p99_ms == 250


def test_a_rho_list_from_the_command_line_is_read_as_increasing_numbers() -> None:
    assert parse_rho_text("0.3, 0.6,0.9,1.1") == (0.3, 0.6, 0.9, 1.1)


@pytest.mark.parametrize(
    ("rho", "message"),
    [
        ("[]", "arrival.rho: must be a non-empty array"),
        ("[0.5, 0.5]", "arrival.rho: must be strictly increasing, got 0.5 after 0.5"),
        ("[0.6, 0.3]", "arrival.rho: must be strictly increasing"),
        ("[0.0, 0.5]", "arrival.rho: every value must be a number > 0, got 0.0"),
        ("[-0.2]", "arrival.rho: every value must be a number > 0"),
        ('["high"]', 'arrival.rho: every value must be a number > 0, got "high"'),
        ("0.5", "arrival.rho: must be a non-empty array"),
    ],
)
def test_a_bad_rho_list_in_a_scenario_is_refused_with_the_field_named(
    rho: str, message: str
) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[")):
        loads_scenario(_sweep(f"rho = {rho}"))


@pytest.mark.parametrize("text", ["", "0.3,0.3", "0.9,0.3", "0,0.5", "0.3,x"])
def test_a_bad_rho_option_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(ScenarioError, match=r"^--rho: "):
        parse_rho_text(text)


@pytest.mark.parametrize("slo", ["0", "-5"])
def test_a_non_positive_slo_is_refused_with_the_field_named(slo: str) -> None:
    with pytest.raises(ScenarioError, match=r"thresholds.slo_p99_ms: must be a number > 0"):
        loads_scenario(_sweep(slo=slo))


def test_a_step_too_short_for_one_job_per_worker_is_refused_in_the_file_and_the_option() -> None:
    # Given 50 ms jobs at rho 0.1: 2 jobs/s per worker, 0.75 of the step measured
    # Then a 1 s step (1.5 jobs per worker... no: 0.1 * 20 * 0.75 = 1.5) passes, 0.5 s does not
    loads_scenario(_sweep("rho = [0.1, 0.5]\nstep_s = 1.0"))
    with pytest.raises(ScenarioError, match=r"arrival.step_s: too short .* rho 0.1"):
        loads_scenario(_sweep("rho = [0.1, 0.5]\nstep_s = 0.5"))
    scenario = loads_scenario(_sweep())
    with pytest.raises(ScenarioError, match=r"^--step-s: too short"):
        override_sweep(scenario, "0.1,0.5", 0.5)
    with pytest.raises(ScenarioError, match=r"^--step-s: must be a number > 0"):
        override_sweep(scenario, None, 0.0)


def test_the_sweep_options_apply_to_sweeps_only() -> None:
    scenario = loads_scenario(_sweep())
    changed = override_sweep(scenario, "0.3,0.9", 4.0)
    assert changed.arrival == SweepArrival((0.3, 0.9), 4.0, WARMUP_FRACTION)
    burst = loads_scenario(
        '[[job]]\nkind = "io"\nduration_ms = 5\n[arrival]\npattern = "poisson"\n'
        "rate = 1\nduration_s = 1\n".replace("[[job]]", 'name = "b"\n[[job]]')
    )
    with pytest.raises(ScenarioError, match=r'^--rho: only for scenarios with .*"sweep"'):
        override_sweep(burst, "0.5", None)


def test_unknown_sweep_keys_are_refused_with_the_allowed_ones_listed() -> None:
    with pytest.raises(ScenarioError, match='arrival: unknown key "rate"; allowed: pattern, rho'):
        loads_scenario(_sweep("rate = 3"))


def test_a_parsed_rho_list_rejects_infinity() -> None:
    with pytest.raises(ScenarioError, match="x: every value must be finite"):
        parse_rho([0.5, math.inf], "x")


# --- step length --------------------------------------------------------------------------


def test_a_low_rate_step_is_long_enough_to_hold_the_measured_jobs() -> None:
    # 1 worker, S = 20 ms, rho 0.5: 25 jobs/s; 60 measured jobs need 2.4 s + warm-up: the floor
    length = step_length_s(0.5, 0.020, 1)
    assert length == pytest.approx(max(MIN_STEP_S, MEASURED_JOBS / 25 / (1 - WARMUP_FRACTION)))
    # At rho 0.2 of 1 worker with S = 50 ms (4 jobs/s) it takes 20 s, clamped to the ceiling
    assert step_length_s(0.2, 0.050, 1) == MAX_STEP_S


def test_steps_near_saturation_get_a_longer_warm_up_than_steps_far_from_it() -> None:
    # Given a fast service where the job count never sets the length
    low, high = step_length_s(0.3, 0.005, 4), step_length_s(0.9, 0.005, 4)
    assert MIN_STEP_S <= low < high <= MAX_STEP_S
    # And past saturation the warm-up stops growing (capped at rho 0.95)
    assert step_length_s(1.1, 0.005, 4) == step_length_s(0.95, 0.005, 4)


# --- M/G/c per step -----------------------------------------------------------------------


def test_an_m_m_1_step_predicts_the_textbook_mean_wait_and_response() -> None:
    # lambda = 8/s, S = 0.1 s: rho 0.8, Wq = rho S / (1 - rho) = 0.4 s, W = 0.5 s
    p = predict_step(8.0, 1, 0.1, cs2=1.0)
    assert p["stable"] and p["utilization"] == pytest.approx(0.8)
    assert p["mean_wait_ms"] == pytest.approx(400.0)
    assert p["mean_ms"] == pytest.approx(500.0)
    # p99 of the wait: ln(C / 0.01) / (mu - lambda) = ln(80) / 2
    assert p["p99_ms"] == pytest.approx(100 + 1000 * math.log(80) / 2)


def test_fixed_service_halves_the_wait_as_pollaczek_khinchine_says_for_m_d_1() -> None:
    p = predict_step(8.0, 1, 0.1, cs2=0.0)
    assert p["mean_wait_ms"] == pytest.approx(0.8 * 100 / (2 * 0.2))


def test_more_servers_at_the_same_utilisation_wait_less_and_quantiles_rise() -> None:
    one, four = predict_step(16.0, 2, 0.1, 0.0), predict_step(32.0, 4, 0.1, 0.0)
    assert one["utilization"] == four["utilization"] == pytest.approx(0.8)
    assert four["mean_wait_ms"] < one["mean_wait_ms"]
    assert four["p50_ms"] <= four["p90_ms"] <= four["p99_ms"] <= four["p999_ms"]


def test_a_step_at_or_past_capacity_is_predicted_unstable() -> None:
    assert predict_step(10.0, 1, 0.1, 0.0)["stable"] is False
    # (rho 1 as the runner computes it: rho c / S, whatever float rounding makes of it)
    service_s = 0.0514846801757812
    for servers in (1, 2, 3, 4, 7):
        assert predict_step(1.0 * servers / service_s, servers, service_s, 0.0)["stable"] is False
    assert "mean_ms" not in predict_step(11.0, 1, 0.1, 0.0)


def test_the_service_spread_is_the_squared_coefficient_of_variation() -> None:
    assert squared_cv([1.0, 1.0, 1.0]) == 0.0
    assert squared_cv([1.0, 3.0]) == pytest.approx(0.25)


# --- one step from job rows ---------------------------------------------------------------


def _row(intended: float, latency: float, *, lag: float = 0.0, service: float = 0.05) -> JobRow:
    finished = intended + latency
    return JobRow(
        mode="async", workers=1, job_id="j", kind="io", duration_ms=50.0, intended=intended,
        sent=intended + lag, accepted=intended + lag + 0.002, submitted=intended + 0.002,
        enqueued=intended + 0.002, started=finished - service, finished=finished,
        http_status=202, outcome="succeeded", in_burst=False,
    )  # fmt: skip


def test_a_step_leaves_its_warm_up_out_and_sets_measured_beside_predicted() -> None:
    # Given 10 jobs/s for 10 s, the first 2.5 s slow (warm-up), the rest at 60 ms
    rows = [_row(100 + i / 10, 0.5 if i < 25 else 0.060) for i in range(100)]
    step = summarize_step(
        rows, StepWindow(100.0, 10.0, 2.5), index=0, rho=0.5, planned_rate=10.0, servers=1,
        service_s=0.05, probed_run_ms=50.0,
    )  # fmt: skip
    # Then only the 75 measured jobs count, at the rate they were offered
    assert step["jobs"] == 75 and step["offered_per_s"] == pytest.approx(10.0)
    assert step["latency_ms"]["p99"] == pytest.approx(60.0, rel=0.01)
    # And achieved counts what finished inside the window: the 75, plus 5 slow warm-up jobs
    assert step["achieved_per_s"] == pytest.approx(80 / 7.5)
    # And the M/D/1 prediction at rho 0.5 (mean 75 ms) sits beside the 60 ms measured
    assert step["predicted"]["utilization"] == pytest.approx(0.5)
    assert step["predicted"]["mean_ms"] == pytest.approx(75.0)
    assert step["checks"]["mean"]["deviation"] == pytest.approx(-0.2, abs=0.01)
    assert step["in_fit"] and not step["generator_fell_behind"]


def test_a_step_where_the_generator_fell_behind_is_flagged_and_left_out_of_the_capacity() -> None:
    slow = [_row(100 + i / 10, 0.06, lag=0.080) for i in range(100)]
    step = summarize_step(
        slow, StepWindow(100.0, 10.0, 2.5), index=1, rho=0.9, planned_rate=10.0, servers=1,
        service_s=0.05, probed_run_ms=50.0,
    )  # fmt: skip
    assert step["generator_fell_behind"] and not step["in_fit"]
    capacity = run_capacity([step], 100.0)
    assert capacity["left_out_rho"] == [0.9] and capacity["slo_capacity_per_s"] is None


def test_a_step_off_its_prediction_because_s_moved_says_so() -> None:
    # Jobs ran 80 ms under load against 50 ms probed
    rows = [_row(100 + i / 10, 0.09, service=0.08) for i in range(100)]
    step = summarize_step(
        rows, StepWindow(100.0, 10.0, 2.5), index=0, rho=0.2, planned_rate=10.0, servers=4,
        service_s=0.05, probed_run_ms=50.0,
    )  # fmt: skip
    assert step["checks"]["mean"]["flagged"]
    assert "80.0 ms under load against 50.0 ms probed" in step["deviation_reason"]


# --- knee and SLO capacity ----------------------------------------------------------------


def test_slo_capacity_is_interpolated_in_log_latency_between_the_steps_around_the_slo() -> None:
    points = [(10.0, 50.0), (20.0, 100.0), (30.0, 400.0), (31.0, 2000.0)]
    capacity, how = slo_capacity(points, 200.0)
    # ln(200/100) / ln(400/100) = 1/2 of the way from 20 to 30
    assert (capacity, how) == (pytest.approx(25.0), "interpolated")


def test_slo_capacity_is_a_lower_bound_when_never_exceeded_and_zero_when_always() -> None:
    assert slo_capacity([(10.0, 50.0), (20.0, 90.0)], 100.0) == (20.0, "at least")
    assert slo_capacity([(10.0, 500.0), (20.0, 900.0)], 100.0) == (0.0, "none")
    with pytest.raises(ValueError, match="slo_ms must be > 0"):
        slo_capacity([(1.0, 1.0)], 0.0)


def test_past_saturation_a_lower_throughput_does_not_pull_the_capacity_down() -> None:
    assert slo_capacity([(19.0, 150.0), (18.0, 3000.0)], 200.0)[0] == pytest.approx(19.0)


def test_the_knee_is_the_step_of_greatest_power_on_a_hockey_stick() -> None:
    # Flat latency until 40/s, then it bends up
    curve = [(10.0, 50.0), (20.0, 52.0), (30.0, 58.0), (40.0, 75.0), (44.0, 200.0), (45.0, 900.0)]
    assert knee_index(curve) == 3


# --- the scaling law ----------------------------------------------------------------------


def test_the_usl_fit_recovers_sigma_and_kappa_from_noisy_synthetic_data() -> None:
    rng = random.Random(3)
    workers = [1, 2, 4, 8, 16, 32]
    truth = (20.0, 0.05, 0.002)
    measured = [usl(n, *truth) * (1 + rng.uniform(-0.01, 0.01)) for n in workers]
    fit = fit_usl(workers, measured)
    assert fit["lambda"] == pytest.approx(20.0, rel=0.03)
    assert fit["sigma"] == pytest.approx(0.05, abs=0.01)
    assert fit["kappa"] == pytest.approx(0.002, abs=0.0005)
    assert fit["n_star"] == pytest.approx(math.sqrt(0.95 / 0.002), rel=0.15)
    assert fit["r2"] > 0.99


def test_linear_scaling_fits_no_contention_and_no_peak() -> None:
    fit = fit_usl([1, 2, 4], [20.0, 40.0, 80.0])
    assert fit["sigma"] < 1e-3 and fit["kappa"] < 1e-4


def test_the_fit_needs_three_worker_counts() -> None:
    with pytest.raises(ValueError, match="three worker counts"):
        fit_usl([1, 2], [1.0, 2.0])


def _sweep_run(mode: str, workers: int, capacity: float, low_p99: float = 60.0) -> dict:
    step = {
        "rho": 0.2, "in_fit": True, "achieved_per_s": capacity / 4,
        "latency_ms": {"mean": 55.0, "p99": low_p99}, "predicted": {"service_ms": 50.0},
    }  # fmt: skip
    return {
        "mode": mode,
        "workers": workers,
        "steps": [step],
        "capacity": {
            "slo_p99_ms": 250.0,
            "slo_capacity_per_s": capacity,
            "slo_capacity_how": "interpolated",
            "saturated_per_s": capacity,
        },
    }


def test_the_verdict_tells_a_scalability_problem_from_near_linear_scaling() -> None:
    runs = [_sweep_run("async", n, 18.0 * n) for n in (1, 2, 4)]
    runs += [_sweep_run("sync", n, x) for n, x in ((1, 18.0), (2, 34.0), (4, 38.0))]
    section = scaling_section(runs)
    assert section["async"]["verdict"].startswith("neither problem")
    assert section["async"]["efficiency"]["4"] == pytest.approx(1.0)
    assert (
        "scalability problem: sync throughput keeps only 53% of linear scaling at 4"
        in (section["sync"]["verdict"])
    )
    assert section["sync"]["usl"]["sigma"] > 0.05 or section["sync"]["usl"]["kappa"] > 0.01


def test_the_verdict_tells_a_plateau_at_the_cores_from_a_decline() -> None:
    # Given CPU-bound work on 2 cores: throughput doubles to 2 workers, then stays (plateau),
    # or falls (decline)
    plateau = [_sweep_run("sync", n, x) for n, x in ((1, 17.0), (2, 33.5), (4, 33.7))]
    decline = [_sweep_run("async", n, x) for n, x in ((1, 17.0), (2, 33.5), (4, 28.0))]
    section = scaling_section(plateau + decline)
    # Then both are scalability problems that the USL reads as coherency, but only the
    # decline is said to get slower with more workers
    assert "it stops growing past 2 workers: a hard limit" in section["sync"]["verdict"]
    assert "makes it slower" not in section["sync"]["verdict"]
    assert "adding workers past N* makes it slower" in section["async"]["verdict"]


def test_the_verdict_calls_slowness_at_low_load_a_performance_problem() -> None:
    runs = [_sweep_run("sync", n, 18.0 * n, low_p99=900.0) for n in (1, 2, 4)]
    verdict = scaling_section(runs)["sync"]["verdict"]
    assert verdict.startswith("performance problem: sync is slow even at low load in x1")


# --- the report ---------------------------------------------------------------------------


def test_a_sweep_report_shows_the_curve_the_scaling_law_and_the_steps_left_out(
    tmp_path: Path,
) -> None:
    from burstlab.experiments.report import write_report
    from burstlab.experiments.sweep.capacity import sweep_summary

    # Given async sweeps at 1, 2 and 4 workers (S = 50 ms) whose p99 bends up near capacity,
    # the last step of x4 with a lagging generator
    runs = []
    for workers in (1, 2, 4):
        steps = []
        for index, rho in enumerate((0.3, 0.6, 0.9)):
            rate = rho * workers / 0.05
            lag = 0.08 if (workers, rho) == (4, 0.9) else 0.0
            latency = 0.055 / (1 - rho) ** 1.5
            rows = [_row(100 + i / rate, latency, lag=lag) for i in range(int(rate * 8))]
            window = StepWindow(100.0, 8.0, 2.0)
            steps.append(
                summarize_step(
                    rows,
                    window,
                    index=index,
                    rho=rho,
                    planned_rate=rate,
                    servers=workers,
                    service_s=0.05,
                    probed_run_ms=50.0,
                )
            )
        runs.append(
            {
                "mode": "async",
                "workers": workers,
                "offered": 1,
                "completed": 1,
                "rejected": 0,
                "lost": 0,
                "errors": 0,
                "throughput_per_s": 1.0,
                "latency_ms": steps[0]["latency_ms"],
                "latency_uncorrected_ms": steps[0]["latency_ms"],
                "accept_latency_ms": steps[0]["accept_latency_ms"],
                "queue_wait_ms": steps[0]["queue_wait_ms"],
                "service_ms": steps[0]["service_ms"],
                "drain_s": 1.0,
                "peak_backlog": 1,
                "generator_lag_ms": {"p99": 0.1},
                "generator_fell_behind": False,
                "sweep": "rho",
                "steps": steps,
                "capacity": run_capacity(steps, 250.0),
            }
        )
    summary = {"scenario": "sweep-io", "runs": runs, **sweep_summary(runs)}
    # When the report is written
    files = write_report(tmp_path, summary, [])
    # Then the curve and the scaling plot are drawn and embedded
    names = {f.name for f in files}
    assert {"latency_vs_throughput.png", "scaling.png", "report.md", "report.html"} <= names
    markdown = (tmp_path / "report.md").read_text()
    # And the capacity sentences, the USL table and the step table are in it
    assert "async ×1 sustains" in markdown and "at p99 ≤ 250 ms and accepts in" in markdown
    assert "## Scaling (Universal Scalability Law)" in markdown
    assert "## Sweep steps" in markdown and "replayed p99" in markdown
    # And the lagging step is named as left out
    assert "left out of the knee, SLO capacity and fit" in markdown
    assert "async ×4 ρ 0.9" in markdown
    assert summary["scaling"]["async"]["usl"] is not None


def test_a_step_below_its_prediction_because_the_probes_overstated_s_says_so() -> None:
    # Given probes that ran 50 ms jobs but measured S = 75 ms (a 25 ms hand-over)
    rows = [_row(100 + i / 4, 0.055) for i in range(40)]
    step = summarize_step(
        rows, StepWindow(100.0, 10.0, 2.5), index=0, rho=0.3, planned_rate=4.0, servers=1,
        service_s=0.075, probed_run_ms=50.0,
    )  # fmt: skip
    # Then the measured 55 ms mean is flagged below the prediction, and the hand-over named
    assert step["checks"]["mean"]["deviation"] < -0.2
    assert "hand-over of 25.0 ms per job" in step["deviation_reason"]


def test_a_step_whose_mean_matches_but_p50_does_not_blames_the_quantile_approximation() -> None:
    # Given M/D/1 at rho 0.7 (mean 108.3 ms predicted) measured as half the jobs at 60 ms
    # and half at 160 ms: mean 110 ms (+2 %), p50 one of the two, far from the ~79 ms predicted
    rows = [_row(100 + i / 14, 0.06 if i % 2 else 0.16) for i in range(140)]
    step = summarize_step(
        rows, StepWindow(100.0, 10.0, 2.5), index=0, rho=0.7, planned_rate=14.0, servers=1,
        service_s=0.05, probed_run_ms=50.0,
    )  # fmt: skip
    assert not step["checks"]["mean"]["flagged"] and step["checks"]["p50"]["flagged"]
    assert "exponential wait tail" in step["deviation_reason"]


def test_a_step_too_short_for_its_queue_to_settle_says_its_mean_is_noise() -> None:
    # Given rho 0.8 on one 50 ms server (relaxation time S / (1 - sqrt(0.8))^2 = 4.5 s) measured
    # for 7.5 s, its jobs waiting far longer than M/D/1's 150 ms mean (one long busy period)
    rows = [_row(100 + i / 16, 0.40) for i in range(160)]
    step = summarize_step(
        rows, StepWindow(100.0, 10.0, 2.5), index=0, rho=0.8, planned_rate=16.0, servers=1,
        service_s=0.05, probed_run_ms=50.0,
    )  # fmt: skip
    # Then the deviation is put down to a measured part of fewer than 2 relaxation times
    assert step["checks"]["mean"]["flagged"]
    assert "held only 1.7 relaxation times" in step["deviation_reason"]
    assert "a longer --step-s steadies it" in step["deviation_reason"]


def test_a_step_above_its_prediction_with_late_sends_names_the_lag() -> None:
    # Given sends 30 ms late (p99) with S = 50 ms: kept in the fit, but arrivals bunched
    rows = [_row(100 + i / 10, 0.10, lag=0.030) for i in range(100)]
    step = summarize_step(
        rows, StepWindow(100.0, 10.0, 2.5), index=0, rho=0.5, planned_rate=10.0, servers=1,
        service_s=0.05, probed_run_ms=50.0,
    )  # fmt: skip
    assert step["in_fit"] and step["checks"]["mean"]["flagged"]
    assert "sends went up to 30 ms late" in step["deviation_reason"]


def test_a_burst_step_sets_its_drain_beside_ceil_b_over_n_times_s() -> None:
    from burstlab.experiments.sweep.capacity import sweep_summary
    from burstlab.experiments.sweep.steps import summarize_burst_step
    from burstlab.experiments.sweep.tables import sweep_notes

    # Given 20 jobs at once on 2 workers of 50 ms: job i finishes at (i // 2 + 1) x 52 ms
    rows = [_row(100.0, (i // 2 + 1) * 0.052, lag=0.001 * i) for i in range(20)]
    step = summarize_burst_step(rows, index=0, multiple=0.5, burst=20, servers=2, service_s=0.05)
    # Then the drain (0.52 s) sits beside ceil(20 / 2) x 50 ms = 0.5 s, 4 % over
    assert step["predicted"]["drain_s"] == pytest.approx(0.5)
    assert step["drain_s"] == pytest.approx(0.52)
    assert step["drain_deviation"] == pytest.approx(0.04)
    # And a burst the generator took longer than S to send is named as such in the report
    late = summarize_burst_step(
        [_row(100.0, 0.1, lag=0.08) for _ in range(20)],
        index=1, multiple=1.0, burst=20, servers=2, service_s=0.05,
    )  # fmt: skip
    runs = [{"mode": "async", "workers": 2, "sweep": "burst", "steps": [step, late]}]
    notes = sweep_notes({"runs": runs, **sweep_summary(runs)})
    assert any("sending these bursts took the generator" in n and "B = 20" in n for n in notes)
