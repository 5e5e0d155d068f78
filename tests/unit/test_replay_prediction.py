"""A run's planned and replayed predictions: checks with bands and causes, in the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from burstlab.experiments.loadgen.probe import hand_over_gap, probe_lines
from burstlab.experiments.model.prediction import (
    ReplayInputs,
    bound_by,
    check_figure,
    hand_over_bound,
    replica_servers,
    share_run_times,
    step_prediction,
)
from burstlab.experiments.model.records import JobRow
from burstlab.experiments.model.replay import Servers, Workload, predict
from burstlab.experiments.model.service import ServiceModel
from burstlab.experiments.model.stats import summarize_run
from burstlab.experiments.render.console import summary_table
from burstlab.experiments.render.prediction_tables import service_table
from burstlab.experiments.render.task_tables import task_tables
from burstlab.experiments.report import write_report
from burstlab.scenario.arrivals import BurstArrival
from burstlab.scenario.schedule import build_schedule
from burstlab.scenario.spec import JobMix, Scenario
from burstlab.scenario.thresholds import Thresholds, check_thresholds

SCENARIO = Scenario(
    "mini-burst",
    "60 jobs within 0.1 s over a trickle",
    (JobMix("io", 50.0),),
    BurstArrival(size=60, at_s=0.5, window_s=0.1, duration_s=1.5, base_rate=4.0),
    Thresholds(max_drain_error=0.2),
    workers=(2,),
)
HAND_OVER_S = 0.005
T0 = 1e9


def _run(
    mode: str,
    workers: int,
    *,
    extra_s: float = 0.0,
    lag_per_job_s: float = 0.0,
    kind: str = "io",
) -> list[JobRow]:
    """Serve the schedule FIFO, each job holding its worker for its duration plus the hand-over
    (plus ``extra_s`` the model does not know of); the i-th send ``i * lag_per_job_s`` late."""
    free = [T0] * workers
    rows = []
    for i, item in enumerate(build_schedule(SCENARIO).items):
        intended = T0 + item.offset_s
        sent = intended + i * lag_per_job_s
        k = min(range(workers), key=free.__getitem__)
        started = max(sent, free[k])
        finished = started + item.duration_ms / 1000 + HAND_OVER_S + extra_s
        free[k] = finished
        accepted = finished if mode == "sync" else sent + 0.002
        rows.append(
            JobRow(mode, workers, f"{mode}-{i}", kind, 0.0 if kind == "task" else item.duration_ms,
                   intended, sent, accepted, sent, sent, started, finished,
                   200 if mode == "sync" else 202, "succeeded", item.in_burst)
        )  # fmt: skip
    return rows


def _inputs(workers: int = 2) -> ReplayInputs:
    return ReplayInputs(workers, ServiceModel(overhead_s=(HAND_OVER_S,) * 5))


def test_a_run_that_does_what_the_model_does_is_inside_every_band() -> None:
    # Given an async run whose workers hold each job for its 50 ms plus the probed hand-over
    rows = _run("async", 2)
    # When summarized with the replay inputs
    summary = summarize_run(rows, "async", 2, None, _inputs())
    # Then no figure is flagged or given a cause; those measured exactly are inside their band
    # (the percentiles come from a histogram of 3 significant digits)
    checks = summary["prediction"]["checks"]
    assert set(checks) == {"drain_s", "mean_s", "p50_s", "p99_s", "peak_backlog"}
    for name, check in checks.items():
        assert not check["flagged"] and check["cause"] is None, name
        assert check["deviation"] == pytest.approx(0.0, abs=0.002), name
    assert all(checks[name]["in_band"] for name in ("drain_s", "mean_s", "peak_backlog"))
    # And both predictions and the inputs are in the summary
    assert summary["prediction"]["planned"]["replays"] == 200
    assert summary["prediction"]["inputs"]["servers"] == 2


def test_a_figure_well_outside_its_band_is_flagged_though_within_the_tolerance() -> None:
    # Given every job holds its worker 4 ms longer than the probes measured (+7 % per job)
    rows = _run("async", 2, extra_s=0.004)
    # When summarized
    check = summarize_run(rows, "async", 2, None, _inputs())["prediction"]["checks"]["drain_s"]
    # Then the drain is within the 20 % tolerance but outside the band: flagged, the pipeline's
    assert 0 < check["deviation"] < 0.2
    assert not check["in_band"] and check["measured"] > check["high"]
    assert check["flagged"] and check["cause"] == "pipeline"


def test_a_generator_that_sent_late_is_off_the_plan_but_not_the_replay() -> None:
    # Given the generator sent each job 40 ms later than the one before it planned
    rows = _run("async", 2, lag_per_job_s=0.040)
    # When summarized
    checks = summarize_run(rows, "async", 2, None, _inputs())["prediction"]["checks"]
    # Then the drain matches the replay of what was sent, and the planned one names the arrivals
    drain = checks["drain_s"]
    assert drain["in_band"] and not drain["flagged"]
    assert drain["measured"] > drain["planned"] * 1.1
    assert drain["cause"] == "arrivals"


def test_a_sync_backlog_counts_the_jobs_running_too() -> None:
    # Given the same load on sync (a caller holds its connection until the answer)
    sync = summarize_run(_run("sync", 2), "sync", 2, None, _inputs())
    run = summarize_run(_run("async", 2), "async", 2, None, _inputs())
    # Then the predicted sync peak is the async one plus the 2 jobs running
    sync_peak = sync["prediction"]["checks"]["peak_backlog"]
    async_peak = run["prediction"]["checks"]["peak_backlog"]
    assert sync_peak["predicted"] == async_peak["predicted"] + 2
    assert sync_peak["in_band"] and async_peak["in_band"]


def test_the_drain_threshold_reads_the_replayed_deviation() -> None:
    # Given a run 30 % slower per job than the model, with a closed form that happens to fit
    run = summarize_run(_run("async", 2, extra_s=0.017), "async", 2, None, _inputs())
    run["theory"] = {"checks": {"drain_s": {"deviation": 0.0}}}
    # Then max_drain_error fails on the replayed deviation
    (check,) = check_thresholds(SCENARIO.thresholds, [run])
    assert check.passed is False and check.measured == pytest.approx(
        run["prediction"]["checks"]["drain_s"]["deviation"]
    )


def test_the_report_and_the_console_show_the_band(tmp_path: Path) -> None:
    # Given one matching and one slow run
    rows = _run("sync", 2) + _run("async", 2, extra_s=0.004)
    runs = [
        summarize_run(rows, "sync", 2, None, _inputs()),
        summarize_run(rows, "async", 2, None, _inputs()),
    ]
    summary = {"scenario": SCENARIO.name, "runs": runs}
    # When the report is written
    write_report(tmp_path, summary, rows)
    markdown = (tmp_path / "report.md").read_text()
    # Then the replay table shows the planned, the replayed band and the cause of a flag
    assert "## Prediction vs measured (queue replay)" in markdown
    drain = runs[1]["prediction"]["checks"]["drain_s"]
    band = f"{drain['predicted']:.2f} ({drain['low']:.2f}\u2013{drain['high']:.2f})"
    line = next(x for x in markdown.splitlines() if x.startswith("| async x2 | drain s |"))
    assert band in line and "\u26a0 pipeline" in line
    assert "## Service-time model of the prediction" in markdown
    assert "each job's own duration" in markdown
    # And the console's predicted cell carries the band
    cells = list(summary_table(summary).columns[9].cells)
    assert cells[1] == band


def test_what_sets_the_drain_is_named_arrivals_hand_over_or_workers() -> None:
    # Given 100 jobs of 50 ms at once on a pipeline costing 2 ms a job: the workers set it
    burst = Workload.of([0.0] * 100, job_s=[0.05] * 100)
    assert bound_by(burst, ServiceModel(overhead_s=(0.002,)), drain_s=2.6) == "workers"
    # Given tasks of 0.05 ms whose hand-over costs 1 ms under load: the hand-over sets it
    tiny = Workload.of([0.0] * 100, job_s=[0.00005] * 100)
    assert bound_by(tiny, ServiceModel(overhead_s=(0.001,)), drain_s=0.1) == "hand-over"
    # Given jobs arriving over 1.5 s that each take 1 ms: their arrival sets the drain
    spread = Workload.of([i * 0.015 for i in range(101)], job_s=[0.001] * 101)
    assert bound_by(spread, ServiceModel(overhead_s=(0.0005,)), drain_s=1.502) == "arrivals"


def test_a_sweep_step_is_predicted_at_the_load_it_really_offered() -> None:
    # Given a step planned at 16 jobs/s on one worker of 50 + 5 ms, whose jobs went out at
    # only 13 jobs/s (the generator sent each one later than planned)
    rows = []
    free = T0
    for i in range(120):
        intended, sent = T0 + i / 16, T0 + i / 13
        started = max(sent, free)
        free = started + 0.050 + HAND_OVER_S
        rows.append(
            JobRow("async", 1, f"s-{i}", "io", 50.0, intended, sent, sent + 0.002, sent, sent,
                   started, free, 202, "succeeded", False)
        )  # fmt: skip
    measured_from = T0 + 20 / 16
    counted = [r for r in rows if r.intended >= measured_from]
    latencies = sorted(r.finished - r.intended for r in counted)  # type: ignore[operator]
    mean_s = sum(latencies) / len(latencies)
    # When the step is replayed (the first 20 jobs its warm-up)
    step = step_prediction(rows, measured_from, _inputs(1), {"mean_s": mean_s})
    # Then the replay of what was sent holds the measured mean; the plan (16/s) does not
    check = step["checks"]["mean_s"]
    assert check["in_band"] and not check["flagged"]
    assert check["planned"] != pytest.approx(check["measured"], rel=0.05)
    assert check["cause"] == "arrivals"


def test_a_scaled_run_s_servers_come_and_go_with_its_replicas() -> None:
    # Given 1 replica of 2 processes from the start, two more ready at 1.0 s and 3.5 s, and a
    # scale-down at 6 s
    servers = replica_servers(1, 2, ready_s=[3.5, 1.0], stop_s=[6.0])
    # Then each replica's processes serve from its own ready time, and the newest one stops
    assert servers.ready_s == (0.0, 0.0, 1.0, 1.0, 3.5, 3.5)
    assert servers.stops()[4:].tolist() == [6.0, 6.0]
    assert servers.stops()[:4].tolist() == [float("inf")] * 4
    # And a burst replayed through them drains as they allow
    burst = Workload.of([0.0] * 120, job_s=[0.1] * 120)
    scaled = predict(burst, ServiceModel(), servers).bands["drain_s"].median
    alone = predict(burst, ServiceModel(), replica_servers(1, 2, [], [])).bands["drain_s"].median
    # (20 jobs by 1 s on 2 processes, the other 100 on 4 by 3.5 s)
    assert alone == pytest.approx(6.0) and scaled == pytest.approx(3.5)


def test_a_task_probe_covers_its_payload_file() -> None:
    # A short file round and round, a longer one line by line, a long one spread evenly
    assert probe_lines(8) == [i % 8 for i in range(40)]
    assert probe_lines(60) == list(range(60))
    assert probe_lines(1000) == list(range(0, 1000, 10))
    # (without a count, the next payloads in turn)
    assert probe_lines(0) == [None] * 40


def shared_queue(
    run_s: list[float], servers: int, gap_s: float, late_s: float = 0.0
) -> list[tuple[float, float]]:
    """Jobs all queued at once, each taken by the server free first: (start, finish) each,
    with ``gap_s`` between a server's finish and its next start; server 0 starts ``late_s``
    late."""
    free = [late_s] + [0.0] * (servers - 1)
    jobs = []
    for run in run_s:
        server = min(range(servers), key=free.__getitem__)
        start = free[server]
        jobs.append((start, start + run))
        free[server] = start + run + gap_s
    return jobs


def test_a_load_probe_round_reads_each_servers_hand_over_without_knowing_the_servers() -> None:
    # Given a round of 8 jobs of a task whose run varies (30 and 75 ms in turn) queued at once
    # on two servers, one starting 2 ms late, with a 5 ms hand-over between a server's jobs
    jobs = shared_queue([0.030, 0.075] * 4, 2, 0.005, late_s=0.002)
    starts, finishes = sorted(s for s, _ in jobs), sorted(f for _, f in jobs)
    run_total = sum(f - s for s, f in jobs)
    # When the round is read from its starts and finishes alone
    gap, cost = hand_over_gap(starts, finishes, 2, run_total)
    # Then the gap is the servers' own 5 ms, where the round's span times two over every job
    # made it more than twice that
    assert gap == pytest.approx(0.005)
    old = ((max(finishes) - min(starts)) * 2 - run_total) / 8
    assert old > 2 * 0.005
    assert cost == pytest.approx((run_total + 6 * 0.005) / 8)
    # And on one server every gap counts, not three quarters of it
    alone = shared_queue([0.050] * 4, 1, 0.004)
    gap, _ = hand_over_gap([s for s, _ in alone], [f for _, f in alone], 1, 0.2)
    assert gap == pytest.approx(0.004)
    # And a round with no job behind another on a server is refused
    with pytest.raises(ValueError, match="no gap"):
        hand_over_gap([0.0, 0.0], [0.05, 0.05], 2, 0.1)


def test_a_percentile_where_latencies_climb_steeply_is_read_by_rank_too() -> None:
    # Given one server and 2,000 jobs at once: 980 of 1 ms, then 1,020 of 100 ms, so the
    # latencies climb 100 ms a job from the 981st, right at the median (job 1,000: 2.98 s)
    load = Workload.of([0.0] * 2000, job_s=[0.001] * 980 + [0.1] * 1020)
    replayed = predict(load, ServiceModel(), Servers.fixed(1), replays=3)
    band = replayed.bands["p50_s"]
    assert band.median == pytest.approx(2.98)

    def job(index: int) -> float:  # the latency of the index-th job (1-based)
        return 0.98 + (index - 980) * 0.1

    # Then the band covers the ranks a median of 2,000 jobs falls at 90 % of the time
    # (p48.2-p51.8: jobs 963-1,037)
    assert band.low < 0.98 and band.high == pytest.approx(job(1037))
    inside = check_figure("p50_s", job(1030), replayed, replayed)
    assert inside.in_band and not inside.flagged and inside.deviation > 1.0
    # And a p50 just beyond it, the replay's p52.2, is outside its band but noted as steep
    steep = check_figure("p50_s", job(1044), replayed, replayed)
    assert steep.steep and not steep.flagged and not steep.in_band and steep.cause is None
    assert steep.rank is not None and 52.0 <= steep.rank <= 52.5
    # And one further on (the replay's p53) is flagged, as a value off in rank is
    far = check_figure("p50_s", job(1060), replayed, replayed)
    assert far.flagged and not far.steep and far.rank is not None and 52.5 < far.rank <= 53.5


def test_both_sides_of_a_task_are_predicted_from_their_probes_pooled() -> None:
    # Given a sync and an async run of a task whose probes of the same payload lines caught
    # run times that differ line by line only by chance, each side with its own hand-over
    runs = []
    noise = (0.001, -0.002, 0.0015, -0.0005)
    for mode, sign, hand_over in (("sync", 1, 0.002), ("async", -1, 0.004)):
        rows = _run(mode, 2, kind="task")
        run_s = tuple(0.05 + sign * n for n in noise)
        inputs = ReplayInputs(2, ServiceModel(run_s=run_s, overhead_s=(hand_over,)))
        summary = summarize_run(rows, mode, 2, None, inputs)
        summary["probe"] = {"lines": [0, 1, 2, 3], "run_outcomes": ["succeeded"] * 4}
        runs.append((rows, summary))
    # When they are shared
    pooled = share_run_times(runs)
    # Then both draw from all eight run times and keep their own overhead
    assert sorted(pooled) == pytest.approx(sorted(0.05 + s * n for s in (1, -1) for n in noise))
    sync, async_ = (summary["prediction"]["inputs"]["service"] for _, summary in runs)
    assert sorted(sync["run_s"]) == sorted(async_["run_s"]) == sorted(pooled)
    assert (sync["overhead_s"], async_["overhead_s"]) == ([0.002], [0.004])
    assert [summary["prediction"]["run_excess_s"] for _, summary in runs] == [0.0, 0.0]
    # And the checks compare the same measured figures with the new predictions
    drains = [summary["prediction"]["checks"]["drain_s"] for _, summary in runs]
    assert all(check["measured"] > 0 for check in drains)
    assert drains[1]["predicted"] > drains[0]["predicted"]  # only the overhead differs


def test_a_side_that_runs_the_same_lines_longer_counts_the_excess_as_its_pipelines() -> None:
    # Given a task of 0.05 ms that the workers ran in 1.2 ms on every line (Celery's trace and
    # the app's result backend around it), the sync side's bare call in 0.05 ms
    runs = []
    for mode, extra, hand_over in (("sync", 0.0, 0.0006), ("async", 0.00115, 0.001)):
        rows = _run(mode, 2, kind="task")
        run_s = tuple(0.00005 + extra + i * 1e-6 for i in range(4))
        service = ServiceModel(run_s=run_s, overhead_s=(hand_over,), idle_overhead_s=(0.0004,))
        summary = summarize_run(rows, mode, 2, None, ReplayInputs(2, service))
        summary["probe"] = {"lines": [0, 1, 2, 3], "run_outcomes": ["succeeded"] * 4}
        runs.append((rows, summary))
    # When shared
    pooled = share_run_times(runs)
    # Then both draw from the sync side's runs, and the async side's 1.15 ms more is added to
    # each of its hand-overs: its prediction is the one its own probes gave
    assert pooled == pytest.approx([0.00005 + i * 1e-6 for i in range(4)] * 2)
    sync, async_ = (summary["prediction"] for _, summary in runs)
    assert sync["run_excess_s"] == 0.0 and async_["run_excess_s"] == pytest.approx(0.00115)
    service = async_["inputs"]["service"]
    assert service["overhead_s"] == pytest.approx([0.00215])
    assert service["idle_overhead_s"] == pytest.approx([0.00155])
    assert sync["inputs"]["service"]["overhead_s"] == [0.0006]


def test_the_report_says_when_the_consumer_not_the_pool_bounds_the_async_side() -> None:
    # Given tasks of 0.05 ms arriving over 1.5 s, handed over at 1 ms each under load
    spread = Workload.of([i * 0.0075 for i in range(201)], job_s=[0.00005] * 201)
    service = ServiceModel(overhead_s=(0.001,))
    assert hand_over_bound(spread, service)
    assert not hand_over_bound(spread, ServiceModel(overhead_s=(0.00001,)))
    # When the service table shows an async and a sync run whose arrivals set the drain
    runs = [
        {"mode": mode, "workers": 2, "prediction": {
            "inputs": {"servers": 2, "service": service.to_dict()},
            "bound": "arrivals", "hand_over_bound": True,
        }}
        for mode in ("async", "sync")
    ]  # fmt: skip
    rows = service_table(runs).rows
    # Then each says both: the arrivals set the drain, and what bounds the wait on its side
    assert rows[0][-1] == (
        "the arrivals (the workers keep up with them); the wait is bounded by each worker's "
        "consumer, not its pool: it hands every job over one at a time, and more pool processes "
        "do not help"
    )
    assert rows[1][-1].endswith("the per-job hand-over (HTTP accept and forward), not the workers")


def test_a_probe_that_ended_otherwise_on_each_side_stays_with_its_side() -> None:
    # Given both sides probed the same three lines; the third hit the workers' time limit
    # (cut at 0.1 s) while the sync side ran it to the end (0.5 s)
    runs = []
    for mode, slow, outcome in (("sync", 0.5, "succeeded"), ("async", 0.1, "failed")):
        rows = _run(mode, 2, kind="task")
        inputs = ReplayInputs(2, ServiceModel(run_s=(0.02, 0.04, slow), overhead_s=(0.002,)))
        summary = summarize_run(rows, mode, 2, None, inputs)
        summary["probe"] = {"lines": [0, 1, 2], "run_outcomes": ["succeeded", "failed", outcome]}
        runs.append((rows, summary))
    # When shared
    shared = share_run_times(runs)
    # Then the lines that ended alike (the second raised on both) are pooled, the third kept
    # to each side, weighted as a pooled line
    assert sorted(shared) == [0.02, 0.02, 0.04, 0.04]
    sync, async_ = (summary["prediction"] for _, summary in runs)
    assert sorted(sync["inputs"]["service"]["run_s"]) == [0.02, 0.02, 0.04, 0.04, 0.5, 0.5]
    assert sorted(async_["inputs"]["service"]["run_s"]) == [0.02, 0.02, 0.04, 0.04, 0.1, 0.1]
    assert (sync["own_run_s"], async_["own_run_s"]) == ([0.5], [0.1])


def test_the_report_shows_the_shared_distribution_once_with_a_sides_excess() -> None:
    # Given both sides of a task predicted from one distribution, the async side's runs of
    # the same lines 1.15 ms longer
    shared = {
        "count": 80, "mean_ms": 0.05, "cv": 0.1, "p50_ms": 0.05, "p99_ms": 0.07,
        "cpu_share": 0.9, "sides": ["sync", "async"], "kept_apart": 0,
        "run_excess_ms": {"sync": 0.0, "async": 1.15},
    }  # fmt: skip
    summary = {
        "task_target": {"app": "proj", "task": "demoapp.tasks.add", "queue": "celery",
                        "payloads": "payloads.jsonl", "payload_lines": 50, "overrides": []},
        "runs": [{"mode": mode, "workers": 1, "shared_distribution": shared}
                 for mode in ("sync", "async")],
    }  # fmt: skip
    # When the task tables are drawn
    table = next(t for t in task_tables(summary) if t.title.startswith("Measured service"))
    # Then the distribution is shown once, saying what the async side adds
    assert len(table.rows) == 1
    assert table.rows[0][1] == (
        "probes, sync and async pooled: what both predictions draw from; the async side's runs "
        "of the same lines 1.15 ms longer, counted as its pipeline's per job"
    )
