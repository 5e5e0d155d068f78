"""Scenarios load from TOML; a bad file names the exact field, key or line."""

from __future__ import annotations

from pathlib import Path

import pytest

from burstlab.scenario.arrivals import BurstArrival, RampArrival, StepArrival
from burstlab.scenario.spec import (
    JobMix,
    ScenarioError,
    list_scenarios,
    load_scenario,
    loads_scenario,
)

VALID = """
name = "tiny"

[[job]]
kind = "io"
duration_ms = 20

[arrival]
pattern = "steady"
rate = 5
duration_s = 2
"""


def test_the_four_shipped_scenarios_are_listed_and_all_load() -> None:
    # Given the shipped scenario folder, When it is listed, Then every scenario in it loads
    names = list_scenarios()
    assert {"burst", "ramp-to-saturation", "steady-under-capacity", "cpu-burst"} <= set(names)
    for name in names:
        assert load_scenario(name).name == name


def test_the_default_burst_scenario_sends_200_fixed_io_jobs_at_one_second() -> None:
    # Given the shipped burst scenario, When it is loaded by name
    scenario = load_scenario("burst")
    # Then it is a 200-job burst of 50 ms io jobs that loses nothing
    assert scenario.jobs == (JobMix(kind="io", duration_ms=50.0),)
    assert isinstance(scenario.arrival, BurstArrival)
    assert (scenario.arrival.size, scenario.arrival.at_s) == (200, 1.0)
    assert scenario.thresholds.max_lost == 0
    assert scenario.workers == (1, 2, 4) and scenario.modes == ("sync", "async")


def test_a_scenario_path_loads_a_user_file_with_defaults(tmp_path: Path) -> None:
    # Given a minimal user scenario on disk
    path = tmp_path / "mine.toml"
    path.write_text(VALID)
    # When it is loaded by path
    scenario = load_scenario(str(path))
    # Then unspecified fields take their documented defaults
    assert scenario.name == "tiny"
    assert scenario.drain_timeout_s == 60.0 and scenario.timeout_s == 30.0 and scenario.seed == 1
    assert scenario.thresholds.max_lost is None
    assert scenario.jobs[0].weight == 1.0 and scenario.jobs[0].distribution == "fixed"


def test_step_ramp_and_mixed_jobs_are_parsed_into_their_dataclasses() -> None:
    # Given step and ramp arrivals and a uniform job
    step = VALID.replace(
        'pattern = "steady"\nrate = 5\nduration_s = 2',
        'pattern = "step"\nsteps = [{rate = 5, duration_s = 1}, {rate = 0, duration_s = 2}]',
    )
    ramp = VALID.replace(
        'pattern = "steady"\nrate = 5',
        'pattern = "ramp"\nstart_rate = 0\nend_rate = 8\nprocess = "poisson"',
    ).replace("duration_ms = 20", 'distribution = "uniform"\nmin_ms = 10\nmax_ms = 30')
    # When they are parsed
    stepped, ramped = loads_scenario(step), loads_scenario(ramp)
    # Then the arrival and job fields come through, uniform with its mean as duration_ms
    assert isinstance(stepped.arrival, StepArrival) and stepped.arrival.duration_s == 3.0
    assert ramped.arrival == RampArrival(0.0, 8.0, 2.0, "poisson")
    assert ramped.jobs[0].duration_ms == 20.0 and ramped.jobs[0].max_ms == 30.0


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("rate = 5", 'rate = "abc"', 'arrival.rate: must be a number > 0, got "abc"'),
        ("rate = 5", "rate = 0", "arrival.rate: must be a number > 0, got 0"),
        ("rate = 5", "rat = 5", 'arrival: unknown key "rat"; allowed: duration_s, pattern, rate'),
        ('name = "tiny"', 'name = "tiny"\njobs = 1', 'scenario: unknown key "jobs"; allowed:'),
        ('kind = "io"', 'kind = "gpu"', 'job[0].kind: must be one of "io", "cpu", got "gpu"'),
        ("duration_ms = 20", "duration_ms = -5", "job[0].duration_ms: must be a number > 0"),
        ("duration_ms = 20", "duration_ms = 60001", "job[0].duration_ms: must be a number > 0"),
        ("duration_ms = 20", "duration_ms = 20\nsigma = 1", 'job[0].sigma: only allowed with '
         'distribution "lognormal", got 1'),
        ('pattern = "steady"', 'pattern = "square"', 'arrival.pattern: must be one of "steady"'),
        ("duration_s = 2", "duration_s = 2\n[thresholds]\nmax_lost = -1",
         "thresholds.max_lost: must be an integer >= 0, got -1"),
        ("duration_s = 2", "duration_s = 2\n[thresholds]\nmax_lsot = 1",
         'thresholds: unknown key "max_lsot"; allowed: async_accept_p99_ms, completion_p99_ms, max_drain_error'),
        ('pattern = "steady"\nrate = 5', 'pattern = "burst"\nsize = 10\nat_s = 3',
         "arrival.duration_s: must be >= at_s + window_s (3), got 2"),
        ('pattern = "steady"\nrate = 5\nduration_s = 2',
         'pattern = "step"\nsteps = [{rate = 5, duration_s = 1}, {rate = "x", duration_s = 1}]',
         'arrival.steps[1].rate: must be a number >= 0, got "x"'),
        ('pattern = "steady"\nrate = 5', 'pattern = "sine"\nmean_rate = 5\namplitude = 6\n'
         "period_s = 1", "arrival.amplitude: must be <= mean_rate (5)"),
        ('name = "tiny"', 'name = "tiny"\nworkers = [1, 0]',
         "workers: must be an array of integers >= 1, got [1, 0]"),
    ],
)  # fmt: skip
def test_a_bad_field_is_reported_by_its_dotted_name(old: str, new: str, message: str) -> None:
    # Given a valid scenario with one field broken
    assert old in VALID
    text = VALID.replace(old, new, 1)
    # When it is parsed, Then the error names that field and what was wrong
    with pytest.raises(ScenarioError) as caught:
        loads_scenario(text, "mine.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("mine.toml: ")


def test_a_missing_arrival_table_is_reported_as_required() -> None:
    # Given a scenario without [arrival], When it is parsed, Then the error says it is required
    with pytest.raises(ScenarioError, match=r"arrival: required"):
        loads_scenario(VALID.split("[arrival]")[0])


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    # Given a file whose third line is not valid TOML
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n\nrate = = 3\n')
    # When it is loaded, Then the message starts with file:line
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert str(caught.value).startswith(f"{path}:3: invalid TOML")


def test_an_unknown_scenario_name_lists_the_shipped_ones() -> None:
    # Given a name that is not shipped, When it is loaded, Then the error lists what is shipped
    with pytest.raises(ScenarioError, match=r'unknown scenario "nope"; shipped: .*burst'):
        load_scenario("nope")


def test_a_missing_scenario_file_is_a_scenario_error(tmp_path: Path) -> None:
    # Given a path that does not exist, When it is loaded, Then the error names the path
    with pytest.raises(ScenarioError, match=r"missing\.toml: cannot read scenario"):
        load_scenario(str(tmp_path / "missing.toml"))
