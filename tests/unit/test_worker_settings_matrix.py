"""The worker-settings experiment: its matrix is read and checked, its figures and verdicts."""

from __future__ import annotations

import math

import pytest

from burstlab.experiments.settings.report import render_report
from burstlab.experiments.settings.results import (
    CellResult,
    best,
    drain_figures,
    held_by_workers,
    verdict_rows,
)
from burstlab.scenario.spec import ScenarioError, load_scenario, loads_scenario
from burstlab.scenario.worker_settings import Matrix, WorkerSettings, disable_prefetch_supported
from workers.config import WorkerConfig

TINY = """
name = "tiny"
kind = "worker-settings"
workers = [2]

[matrix]
pools = ["prefork", "solo"]
prefetch_multipliers = [1]
acks_late = [true, false]
disable_prefetch_cell = false
"""


def _result(label: WorkerSettings, lost: int, io: float, cpu: float) -> CellResult:
    return CellResult(label, 4, 5.0, io, (io, io), 8.0, cpu, (cpu, cpu), 4, 0.1, 30.0, 0, lost, 40)


def test_the_shipped_worker_settings_scenario_covers_pools_prefetch_and_acks() -> None:
    # Given the shipped scenario, When it is loaded
    scenario = load_scenario("worker-settings")
    assert scenario.kind == "worker-settings" and scenario.matrix is not None
    cells = scenario.matrix.cells()
    # Then every pool, both multipliers and both ack modes are among its cells
    assert {c.pool for c in cells} == {"prefork", "threads", "solo"}
    assert {c.prefetch_multiplier for c in cells} == {1, 4}
    assert {c.acks_late for c in cells} == {True, False}
    # And the disable-prefetch cell is there exactly when the installed Celery has the option
    assert any(c.disable_prefetch for c in cells) == disable_prefetch_supported()
    assert len(cells) == len(set(cells)) <= 13


def test_the_installed_celery_has_worker_disable_prefetch() -> None:
    assert disable_prefetch_supported()


def test_a_two_cell_matrix_is_read_from_toml_with_the_workers_as_concurrency() -> None:
    matrix = loads_scenario(TINY).matrix
    assert matrix is not None and matrix.concurrency == 2
    labels = [c.label for c in matrix.cells()]
    assert labels == [
        "prefork x1 acks-late",
        "prefork x1 acks-early",
        "solo x1 acks-late",
        "solo x1 acks-early",
    ]


def test_without_the_celery_option_no_disable_prefetch_cell_is_made() -> None:
    matrix = Matrix(disable_prefetch=(False, True))
    assert not any(c.disable_prefetch for c in matrix.cells(with_disable_prefetch=False))
    # 3 pools x 2 multipliers x 2 ack modes with it on; the extra cell is one of them
    assert sum(c.disable_prefetch for c in matrix.cells(with_disable_prefetch=True)) == 12


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('pools = ["gevent"]', r"matrix\.pools: must be a non-empty array of prefork"),
        ("prefetch_multipliers = [-1]", r"matrix\.prefetch_multipliers: must be"),
        ('acks_late = ["yes"]', r"matrix\.acks_late: must be a non-empty array of true/false"),
        ("io_jobs = 0", r"matrix\.io_jobs"),
        ("speed = 3", r"matrix.*speed"),
    ],
)
def test_a_bad_matrix_field_is_named(change: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        loads_scenario(f'name = "bad"\nkind = "worker-settings"\n[matrix]\n{change}\n')


def test_a_worker_settings_scenario_refuses_a_burst_schedule_and_one_process() -> None:
    with pytest.raises(ScenarioError, match="arrival: not used with kind"):
        loads_scenario(TINY.replace("[matrix]", '[arrival]\npattern = "burst"\n[matrix]'))
    with pytest.raises(ScenarioError, match="workers: must be one worker process count >= 2"):
        loads_scenario(TINY.replace("workers = [2]", "workers = [1]"))


def test_a_cells_settings_become_a_worker_environment_that_the_worker_reads_back() -> None:
    settings = WorkerSettings("threads", 4, False, True)
    config = WorkerConfig.from_env(settings.env())
    assert (config.pool, config.prefetch_multiplier) == ("threads", 4)
    assert (config.acks_late, config.disable_prefetch) == (False, True)


def test_drain_figures_give_overhead_per_process_and_efficiency_of_n_over_s() -> None:
    # Given 8 jobs of 10 ms on 2 processes that took 50 ms from first start to last finish
    starts, ends = [0.0] * 8, [0.05] * 8
    overhead_ms, efficiency = drain_figures(starts, ends, processes=2, job_ms=10)
    # Then each process spent 50 x 2 / 8 = 12.5 ms per job: 2.5 ms over the job
    assert overhead_ms == pytest.approx(2.5)
    assert efficiency == pytest.approx(0.8)


def test_jobs_held_by_workers_are_those_accepted_not_finished_and_not_in_the_list() -> None:
    # Given samples while a burst of 10 was submitted then drained
    samples = [(4, 4, 0), (10, 6, 0), (10, 2, 2), (10, 1, 5), (10, 0, 10)]
    peak, share = held_by_workers(samples, burst=10)
    # Then the peak held is 6 (8 left, 2 queued), and at half drain 4 of 5 were held
    assert peak == 6
    assert share == pytest.approx(0.8)


def test_no_half_drain_sample_gives_no_share() -> None:
    assert math.isnan(held_by_workers([(10, 10, 0)], burst=10)[1])


def test_the_verdict_calls_a_cell_that_lost_jobs_unsafe_and_picks_the_fastest_safe_one() -> None:
    late = _result(WorkerSettings("prefork", 1, True), lost=0, io=0.6, cpu=0.4)
    early = _result(WorkerSettings("prefork", 1, False), lost=2, io=0.9, cpu=0.9)
    threads = _result(WorkerSettings("threads", 1, True), lost=0, io=0.7, cpu=0.1)
    rows = verdict_rows([late, early, threads])
    assert rows[0] == ["prefork x1 acks-late", "safe", "fast", "slow"]
    assert rows[1] == ["prefork x1 acks-early", "LOSES 2", "fast", "fast"]
    assert best([late, early, threads], "io") is threads
    assert best([late, early, threads], "cpu") is late
    assert best([early], "io") is None


def test_the_report_ends_with_the_safe_and_fast_table() -> None:
    late = _result(WorkerSettings("prefork", 1, True), lost=0, io=0.6, cpu=0.4)
    early = _result(WorkerSettings("prefork", 1, False), lost=2, io=0.9, cpu=0.9)
    text = render_report([late, early], Matrix(), replicas=2)
    table = text[text.index("## Which settings are safe and fast") :]
    assert "| prefork x1 acks-early | LOSES 2 | fast | fast |" in table
    assert text.rstrip().endswith("Fastest safe settings for cpu jobs: prefork x1 acks-late")
