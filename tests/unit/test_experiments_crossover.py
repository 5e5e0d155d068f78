"""Duration sweeps: the per-job overhead, the drain model, the crossover (predicted, measured,
fitted), the sending order, the scenario's validation and the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from burstlab.experiments.durations.crossover import (
    ABOVE,
    BELOW,
    CROSSED,
    NEVER,
    Crossing,
    burst_rounds,
    fit_line,
    fitted_overhead_ms,
    measured_crossing,
    model_crossing,
    per_job_overhead_ms,
    predicted_drain_s,
)
from burstlab.experiments.durations.run import NOOP_MS, burst_order, burst_schedule, servers_for
from burstlab.experiments.durations.steps import (
    BurstResult,
    crossover_section,
    crossover_sentences,
    summarize_duration_mode,
)
from burstlab.experiments.model.records import JobRow
from burstlab.experiments.report import write_report
from burstlab.scenario.spec import ScenarioError, load_scenario, loads_scenario
from burstlab.scenario.sweep import DurationSweepArrival

# --- the model ------------------------------------------------------------------------------


def test_a_burst_takes_ceil_b_over_n_rounds_and_refuses_no_servers() -> None:
    assert burst_rounds(200, 4) == 50
    assert burst_rounds(201, 4) == 51
    assert burst_rounds(3, 4) == 1
    with pytest.raises(ValueError, match="servers must be >= 1"):
        burst_rounds(10, 0)


def test_a_no_op_burst_gives_the_overhead_and_predicts_every_duration_from_it() -> None:
    # Given 200 no-op jobs on 4 workers that drained in 0.5 s: 50 rounds of 10 ms
    overhead = per_job_overhead_ms(0.5, 50)
    assert overhead == pytest.approx(10.0)
    # Then a burst of 20 ms jobs is predicted to drain in 50 x (20 + 10) ms
    assert predicted_drain_s(overhead, 50, 20.0) == pytest.approx(1.5)


def test_the_predicted_crossover_is_where_the_overheads_make_async_one_tolerance_slower() -> None:
    # Given o_sync = 2 ms and o_async = 8 ms, When async may be 10 % slower
    crossing = model_crossing(2.0, 8.0, 0.10)
    # Then d* = (8 - 1.1 x 2) / 0.1 = 58 ms, where (d + 8) / (d + 2) is exactly 1.1
    assert crossing.how == CROSSED
    assert crossing.duration_ms == pytest.approx(58.0)
    ratio_there = (58.0 + 8.0) / (58.0 + 2.0)
    assert ratio_there == pytest.approx(1.1)


def test_with_no_tolerance_parallel_drains_make_async_slower_at_every_duration_or_none() -> None:
    # A larger async overhead keeps async slower however long the jobs: no crossover
    assert model_crossing(2.0, 8.0, 0.0) == Crossing(NEVER)
    # A smaller (or equal) one leaves async never slower
    assert model_crossing(8.0, 2.0, 0.0) == Crossing(BELOW, 0.0)
    assert model_crossing(5.0, 5.0, 0.0) == Crossing(BELOW, 0.0)


def test_an_overhead_within_the_tolerance_crosses_at_no_duration() -> None:
    # async 10.5 ms against sync 10 ms is within 10 % already at d = 0
    assert model_crossing(10.0, 10.5, 0.10) == Crossing(BELOW, 0.0)
    with pytest.raises(ValueError, match="tolerance"):
        model_crossing(1.0, 2.0, -0.1)


def test_the_measured_crossover_is_interpolated_in_log_duration() -> None:
    # Given ratios 1.3 at 10 ms and 1.0 at 100 ms, When the threshold is 1.1
    crossing = measured_crossing([10.0, 100.0], [1.3, 1.0], 0.10)
    # Then it crosses two thirds of the way from 10 to 100 ms on a log scale: 10^(5/3)
    assert crossing.how == CROSSED
    assert crossing.duration_ms == pytest.approx(10 ** (5 / 3))


def test_the_measured_crossover_is_past_the_last_duration_above_the_threshold() -> None:
    # A noisy dip at 2 ms does not count: 5 ms is still above, so it crosses past 5 ms
    crossing = measured_crossing([1.0, 2.0, 5.0, 10.0], [1.5, 1.05, 1.3, 1.02], 0.10)
    assert crossing.how == CROSSED
    assert 5.0 < (crossing.duration_ms or 0) < 10.0


def test_a_measured_crossover_outside_the_range_says_on_which_side() -> None:
    durations = [1.0, 10.0, 100.0]
    assert measured_crossing(durations, [3.0, 1.5, 1.2], 0.10) == Crossing(ABOVE)
    assert measured_crossing(durations, [1.05, 1.0, 0.98], 0.10) == Crossing(BELOW)
    # with no tolerance: async slower than sync everywhere
    assert measured_crossing(durations, [3.0, 1.5, 1.01], 0.0) == Crossing(ABOVE)


def test_durations_without_a_ratio_are_left_out_of_the_measured_crossover() -> None:
    crossing = measured_crossing([1.0, 10.0, 100.0], [2.0, None, 1.0], 0.5)
    # between 1 ms (2.0) and 100 ms (1.0): half way on a log scale, 10 ms
    assert crossing.duration_ms == pytest.approx(10.0)
    with pytest.raises(ValueError, match="no duration has a ratio"):
        measured_crossing([1.0], [None], 0.1)


def test_the_fitted_overhead_recovers_o_from_drains_of_the_model() -> None:
    # Given drains of exactly 50 x (d + 7 ms)
    durations = [1.0, 5.0, 20.0, 100.0]
    drains = [50 * (d + 7.0) / 1000 for d in durations]
    # Then the fit finds o = 7 ms, and a free line has slope 50 / 1000 s per ms and R^2 = 1
    assert fitted_overhead_ms(durations, drains, 50) == pytest.approx(7.0)
    line = fit_line(durations, drains)
    assert line["slope_s_per_ms"] == pytest.approx(0.05)
    assert line["intercept_s"] == pytest.approx(0.35)
    assert line["r2"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="two or more distinct durations"):
        fit_line([5.0, 5.0], [0.1, 0.2])


# --- one mode summarised, then both side by side ---------------------------------------------


def _burst(mode: str, duration_ms: float, drain_s: float, jobs: int = 8, *, lost: bool = False):
    """A burst of ``jobs`` sent at t = 1000 whose last completion is ``drain_s`` later."""
    rows = []
    for i in range(jobs):
        end = 1000.0 + drain_s * (i + 1) / jobs
        outcome = "lost" if lost and i == jobs - 1 else "succeeded"
        finished = None if outcome == "lost" else end
        accepted = end if mode == "sync" else 1000.001
        rows.append(
            JobRow(
                mode, 2, f"{mode}-{duration_ms}-{i}", "io", duration_ms, 1000.0, 1000.0005,
                accepted, 1000.001, 1000.001, end - duration_ms / 1000, finished,
                200 if mode == "sync" else 202, outcome, True,
            )
        )  # fmt: skip
    return rows


def _mode(mode: str, overhead_ms: float, durations: list[float], extra: float = 0.0):
    """Bursts of 8 jobs on 2 servers (4 rounds) draining 4 x (d + o) (+ extra at d > 0)."""
    bursts = [BurstResult(0.0, 0, tuple(_burst(mode, 0.0, 4 * overhead_ms / 1000)))]
    for d in durations:
        drain = 4 * (d + overhead_ms) / 1000 + extra
        bursts.append(BurstResult(d, 0, tuple(_burst(mode, d, drain))))
    return bursts


def test_a_mode_is_calibrated_by_its_no_op_bursts_and_each_duration_predicted() -> None:
    # Given no-op bursts of 8 jobs on 2 servers draining in 40, 48 and 60 ms (median 48 ms)
    bursts = [
        BurstResult(0.0, r, tuple(_burst("sync", 0.0, s)))
        for r, s in enumerate((0.04, 0.048, 0.06))
    ]
    bursts += [
        BurstResult(10.0, r, tuple(_burst("sync", 10.0, s))) for r, s in enumerate((0.09, 0.1, 0.2))
    ]
    # When the mode is summarised
    run = summarize_duration_mode(bursts, burst=8, servers=2)
    # Then o is the median no-op drain over 4 rounds: 12 ms
    assert run["rounds"] == 4
    assert run["calibration"]["overhead_ms"] == pytest.approx(12.0)
    # And 10 ms jobs are predicted at 4 x (10 + 12) ms = 88 ms beside their median drain of 0.1 s
    (step,) = run["steps"]
    assert step["predicted_drain_s"] == pytest.approx(0.088)
    assert (step["drain_s"], step["drain_min_s"], step["drain_max_s"]) == pytest.approx(
        (0.1, 0.09, 0.2)
    )
    assert step["deviation"] == pytest.approx(0.1 / 0.088 - 1)
    assert step["flagged"] is False
    assert step["completed"] == step["jobs"] == 24


def test_a_burst_that_lost_a_job_has_no_drain() -> None:
    lost = BurstResult(5.0, 0, tuple(_burst("async", 5.0, 0.1, lost=True)))
    kept = BurstResult(5.0, 1, tuple(_burst("async", 5.0, 0.2)))
    assert lost.drain_s is None
    run = summarize_duration_mode([lost, kept], burst=8, servers=2)
    (step,) = run["steps"]
    assert step["drains_s"] == [None, pytest.approx(0.2)]
    assert step["drain_s"] == pytest.approx(0.2)
    assert step["lost"] == 1
    # (no no-op burst: nothing to predict from)
    assert step["predicted_drain_s"] is None


def test_both_modes_side_by_side_give_the_crossover_measured_predicted_and_fitted() -> None:
    # Given sync with 2 ms and async with 8 ms of per-job overhead, exactly on the model
    durations = [1.0, 10.0, 30.0, 100.0]
    runs = [
        {"mode": mode, "workers": 2, **summarize_duration_mode(bursts, burst=8, servers=2)}
        for mode, bursts in (
            ("sync", _mode("sync", 2.0, durations)),
            ("async", _mode("async", 8.0, durations)),
        )
    ]
    # When the two are set side by side with a 10 % tolerance
    (section,) = crossover_section(runs, 0.10)
    # Then the ratios are (d + 8) / (d + 2), predicted and measured alike
    assert section["ratios"] == pytest.approx([(d + 8) / (d + 2) for d in durations])
    assert section["predicted_ratios"] == pytest.approx(section["ratios"])
    # And async is slower at every duration: measured above the range, predicted never
    assert section["slower"]["measured"] == {"how": ABOVE, "duration_ms": None}
    assert section["slower"]["predicted"] == {"how": NEVER, "duration_ms": None}
    # And 10 % slower below 58 ms predicted, and fitted the same; measured between 30 and 100
    beyond = section["beyond_tolerance"]
    assert beyond["predicted"]["duration_ms"] == pytest.approx(58.0)
    assert beyond["fitted"]["duration_ms"] == pytest.approx(58.0)
    assert 30.0 < beyond["measured"]["duration_ms"] < 100.0
    assert section["fit"]["async"]["slope_of_rounds"] == pytest.approx(1.0)
    # And the sentences say so in words
    lines = crossover_sentences([section])
    assert "sync 2.0 ms, async 8.0 ms" in lines[0]
    assert "async drains slower than sync measured at every duration sent (1-100 ms)" in lines[1]
    assert "predicted at every duration" in lines[1]
    assert "more than 10% slower than sync measured below" in lines[2]
    assert "predicted below 58 ms" in lines[2]


def test_no_crossover_without_both_modes() -> None:
    run = {
        "mode": "async",
        "workers": 2,
        **summarize_duration_mode(_mode("async", 8.0, [1.0, 5.0]), burst=8, servers=2),
    }
    assert crossover_section([run], 0.1) == []


def test_the_report_shows_the_crossover_the_drains_and_the_plot(tmp_path: Path) -> None:
    from burstlab.experiments.model.stats import summarize_run

    # Given a sweep whose sync drains run 3 ms over the model and async's sit on it
    durations = [1.0, 10.0, 100.0]
    modes = {
        "sync": _mode("sync", 2.0, durations, extra=0.003),
        "async": _mode("async", 9.0, durations),
    }
    runs, rows = [], []
    for mode, bursts in modes.items():
        mine = [r for b in bursts for r in b.rows]
        run = summarize_run(mine, mode, 2, None)
        run.update(summarize_duration_mode(bursts, burst=8, servers=2))
        runs.append(run)
        rows += mine
    sections = crossover_section(runs, 0.1)
    summary = {
        "scenario": "short-jobs", "runs": runs, "crossover": sections,
        "crossover_sentences": crossover_sentences(sections),
    }  # fmt: skip
    # When the report is written
    files = write_report(tmp_path, summary, rows)
    # Then it opens with the crossover: 10 % slower below (9 - 2.2) / 0.1 = 68 ms predicted,
    # and measured between 10 and 100 ms, where the measured ratio falls through 1.1
    markdown = (tmp_path / "report.md").read_text()
    table = markdown[markdown.index("## Crossover") :]
    assert "| ×2, B = 8 | async drain > 1.1 × sync drain | " in table
    row = next(line for line in table.splitlines() if "1.1 × sync" in line)
    measured, predicted, fitted = (cell.strip() for cell in row.split("|")[3:6])
    assert predicted == "68.0 ms"
    assert 10.0 < float(measured.removesuffix(" ms")) < 100.0
    assert fitted.endswith(" ms")
    # And the drains per duration beside the prediction, the overheads, and the plot
    assert "## Job durations" in markdown and "| ×2, B = 8 | 0 (no-op) |" in markdown
    assert "## Per-job overhead" in markdown
    assert "more than 10% slower than sync" in markdown
    plot = tmp_path / "duration_sweep.png"
    assert plot in files and plot.read_bytes().startswith(b"\x89PNG")
    assert plot.stat().st_size > 10_000 and "duration_sweep.png" in markdown


# --- sending order ----------------------------------------------------------------------------


def test_each_repeat_brackets_the_durations_with_no_op_bursts_and_alternates_who_goes_first() -> (
    None
):
    order = burst_order((1.0, 10.0), ("sync", "async"), repeats=2)
    # 2 repeats x (no-op, 1, 10, no-op) x 2 modes
    assert len(order) == 16
    first = [(d, m) for r, d, m in order if r == 0]
    assert [d for d, _ in first] == [NOOP_MS, NOOP_MS, 1.0, 1.0, 10.0, 10.0, NOOP_MS, NOOP_MS]
    # every burst pair has both modes, and the first of each pair alternates
    pairs = [first[i : i + 2] for i in range(0, len(first), 2)]
    assert all({m for _, m in pair} == {"sync", "async"} for pair in pairs)
    assert [pair[0][1] for pair in pairs] == ["sync", "async", "sync", "async"]


def test_a_burst_is_every_job_at_offset_zero_and_cpu_jobs_get_at_most_the_cores() -> None:
    schedule = burst_schedule("io", 5.0, 3)
    assert schedule.offered == 3
    assert {(j.offset_s, j.kind, j.duration_ms, j.in_burst) for j in schedule.items} == {
        (0.0, "io", 5.0, True)
    }
    assert servers_for("io", 4, cores=2) == 4
    assert servers_for("cpu", 4, cores=2) == 2


# --- the scenario -----------------------------------------------------------------------------

SWEEP = """\
name = "d"
{job}
[arrival]
pattern = "duration-sweep"
{arrival}
"""


def test_the_shipped_short_jobs_scenario_sweeps_1_to_200_ms_at_one_burst() -> None:
    scenario = load_scenario("short-jobs")
    assert scenario.arrival == DurationSweepArrival(
        (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0), size=160, repeats=3, tolerance=0.1
    )
    assert scenario.workers == (4,) and scenario.modes == ("sync", "async")
    assert [job.kind for job in scenario.jobs] == ["io"]


def test_a_duration_sweep_without_a_job_table_sends_io_jobs() -> None:
    scenario = loads_scenario(SWEEP.format(job="", arrival="durations_ms = [1, 3]"))
    assert scenario.arrival.durations_ms == (1.0, 3.0)  # type: ignore[union-attr]
    assert scenario.jobs[0].kind == "io"
    cpu = loads_scenario(SWEEP.format(job='[[job]]\nkind = "cpu"', arrival=""))
    assert cpu.jobs[0].kind == "cpu"


@pytest.mark.parametrize(
    ("job", "arrival", "message"),
    [
        ("", "durations_ms = []", "arrival.durations_ms: must be a non-empty array"),
        ("", "durations_ms = [5, 5]", "arrival.durations_ms: must be strictly increasing"),
        ("", "durations_ms = [10, 2]", "arrival.durations_ms: must be strictly increasing"),
        ("", "durations_ms = [0, 1]", "arrival.durations_ms: every value must be a number > 0"),
        ("", "durations_ms = [-1]", "arrival.durations_ms: every value must be a number > 0"),
        ("", 'durations_ms = ["1"]', "arrival.durations_ms: every value must be a number > 0"),
        ("", "durations_ms = [1, 90000]", "arrival.durations_ms: every value must be <= 60000"),
        ("", "durations_ms = 5", "arrival.durations_ms: must be a non-empty array"),
        ("", "size = 0", "arrival.size: must be an integer >= 1"),
        ("", "repeats = 0", "arrival.repeats: must be an integer >= 1"),
        ("", "tolerance = -0.1", "arrival.tolerance: must be a number >= 0"),
        ("", "rho = [1]", 'arrival: unknown key "rho"'),
        ('[[job]]\nkind = "io"\nduration_ms = 5', "", "job[0].duration_ms: not used with"),
        ('[[job]]\nkind = "gpu"', "", "job[0].kind: must be one of"),
        ('[[job]]\nkind = "io"\n[[job]]\nkind = "cpu"', "", "job: with arrival.pattern"),
    ],
)
def test_a_bad_duration_sweep_is_refused_with_the_field_named(
    job: str, arrival: str, message: str
) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        loads_scenario(SWEEP.format(job=job, arrival=arrival))
