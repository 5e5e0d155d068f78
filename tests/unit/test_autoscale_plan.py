"""``burstlab plan``: the fluid model picks the smallest fixed count and the cheapest policy
that meet the SLO; a scenario without an SLO or a policy is refused with the field named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from burstlab.autoscale.plan import measured_inputs, plan
from burstlab.autoscale.replicas import machine_replica_limit
from burstlab.cli.plan import plan as plan_command
from burstlab.cli.run import run as run_command
from burstlab.experiments.autoscale.figures import deviations, worker_seconds
from burstlab.experiments.autoscale.run import check_machine
from burstlab.scenario.spec import ScenarioError, load_scenario, loads_scenario

NO_SLO = """
name = "t"
[[job]]
kind = "io"
duration_ms = 100
[arrival]
pattern = "burst"
size = 100
at_s = 1
duration_s = 5
[autoscale]
max_replicas = 4
"""


def test_the_plan_for_autoscale_burst_meets_the_slo_more_cheaply_than_fixed_at_max() -> None:
    scenario = load_scenario("autoscale-burst")
    result = plan(scenario)
    assert result.fixed is not None and result.cheapest is not None
    slo = result.slo_ms * (1 - result.headroom)
    assert result.headroom == pytest.approx(0.1)
    # The smallest fixed count meets the SLO with the headroom and one fewer does not
    count = result.fixed.policy.min_replicas
    assert result.fixed.meets(slo)
    assert all(not c.meets(slo) for c in result.fixed_tried if c.policy.min_replicas < count)
    # The cheapest policy meets it and costs no more than the scenario's own or fixed at max
    assert result.cheapest.meets(slo)
    assert result.cheapest.prediction.worker_seconds <= (
        result.scenario_policy.prediction.worker_seconds
    )
    assert result.cheapest.prediction.worker_seconds < (
        scenario.autoscale.max_workers * result.cheapest.prediction.end_s  # type: ignore[union-attr]
    )


def test_planning_without_an_slo_names_the_missing_threshold() -> None:
    with pytest.raises(ScenarioError, match=r"thresholds\.completion_p99_ms"):
        plan(loads_scenario(NO_SLO))


def test_the_plan_command_prints_the_smallest_fixed_count_and_the_cheapest_policy() -> None:
    result = CliRunner().invoke(plan_command, ["autoscale-burst"])
    assert result.exit_code == 0, result.output
    assert "smallest fixed count meeting the SLO:" in result.output
    assert "cheapest policy meeting the SLO" in result.output


def test_more_replicas_than_the_machine_can_start_are_refused_with_the_limit() -> None:
    policy = load_scenario("autoscale-burst").autoscale
    assert policy is not None
    # 1000 MB available, half of it for replicas of 3 processes of 70 MB: 2 replicas
    assert machine_replica_limit(2, available_mb=1000) == 2
    with pytest.raises(ScenarioError, match=r"autoscale\.max_replicas: .* at most 2 replicas"):
        check_machine(policy, available_mb=1000)


def test_worker_seconds_integrate_the_requested_count_between_polls() -> None:
    timeline = [
        {"epoch_s": 10.0, "requested": 1},
        {"epoch_s": 12.0, "requested": 3},
        {"epoch_s": 16.0, "requested": 1},
    ]
    # [10, 12) at 1, [12, 16) at 3, [16, 20] at 1, two processes per replica
    assert worker_seconds(timeline, 2, 10.0, 20.0) == pytest.approx(2 * (2 + 12 + 4))


def test_deviations_over_twenty_percent_are_flagged() -> None:
    result = deviations({"drain_s": 13.0, "p99_ms": 100.0}, {"drain_s": 10.0, "p99_ms": 90.0})
    assert result["drain_s"]["flagged"] and result["drain_s"]["deviation"] == pytest.approx(0.3)
    assert not result["p99_ms"]["flagged"]
    assert result["worker_seconds"]["deviation"] is None


def test_running_more_replicas_than_the_machine_can_start_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "huge.toml"
    scenario.write_text(NO_SLO.replace("max_replicas = 4", "max_replicas = 5000"))
    result = CliRunner().invoke(run_command, [str(scenario), "--no-live", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "autoscale.max_replicas: this machine can start at most" in result.output
    assert not (tmp_path / "summary.json").exists()


def _measured_summary(samples: list[float]) -> dict[str, object]:
    probe = {"service_s": sum(samples) / len(samples), "samples_s": samples}
    return {
        "runs": [
            {"mode": "async", "probe": probe, "setup_start_times_s": [1.0, 2.0, 4.0]},
            {"mode": "async", "probe": probe, "start_times_s": [2.5]},
        ]
    }


def test_a_runs_measured_service_times_and_starts_are_read_from_its_summary() -> None:
    found = measured_inputs(_measured_summary([0.05, 0.15]))
    assert found.service_s == pytest.approx(0.1) and found.samples_s == (0.05, 0.15)
    assert found.process_start_s == pytest.approx(2.25)  # the median of the four starts
    with pytest.raises(ScenarioError, match=r"probe\.service_s"):
        measured_inputs({"runs": [{"mode": "sync", "probe": {}}]}, "x/summary.json")


LIGHT = """
name = "light"
[[job]]
kind = "io"
duration_ms = 76
[arrival]
pattern = "burst"
size = 10
at_s = 1
window_s = 5
base_rate = 1
duration_s = 20
[autoscale]
max_replicas = 2
replica_concurrency = 4
[thresholds]
completion_p99_ms = 1000
"""


def test_the_plan_command_plans_with_what_a_run_measured(tmp_path: Path) -> None:
    # Given a run of a task whose jobs took 40 ms and, one in ten, 400 ms (mean 76 ms), and a
    # light load that one replica serves without a queue
    samples = [0.04] * 9 + [0.4]
    (tmp_path / "summary.json").write_text(json.dumps(_measured_summary(samples)))
    (tmp_path / "light.toml").write_text(LIGHT)
    scenario = str(tmp_path / "light.toml")
    # When the plan is made from it, and from its mean alone
    measured = CliRunner().invoke(plan_command, [scenario, "--measured", str(tmp_path), "--json"])
    plain = CliRunner().invoke(plan_command, [scenario, "--service-ms", "76", "--json"])
    assert measured.exit_code == 0 and plain.exit_code == 0, measured.output + plain.output
    with_samples, with_mean = json.loads(measured.output), json.loads(plain.output)
    # Then it used the measured S and start (2.25 s + the scenario's replica_start_delay_s)
    assert with_samples["service_s"] == pytest.approx(0.076)
    assert with_samples["start_delay_s"] == pytest.approx(
        2.25 + load_scenario(scenario).autoscale.replica_start_delay_s
    )
    # and the slow jobs' own 400 ms are the p99 of one replica, where S alone says 76 ms
    assert with_samples["smallest_fixed"]["p99_ms"] == pytest.approx(400, rel=0.01)
    assert with_mean["smallest_fixed"]["p99_ms"] == pytest.approx(76, rel=0.01)


def test_a_measured_path_that_is_not_a_summary_is_refused(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text("[1, 2]")
    result = CliRunner().invoke(plan_command, ["autoscale-burst", "--measured", str(tmp_path)])
    assert result.exit_code != 0 and "not a run's summary.json" in result.output


def test_the_replay_checks_every_setting_the_plan_shows_and_agrees_on_autoscale_burst() -> None:
    # Given the shipped scenario, planned with the default start
    result = plan(load_scenario("autoscale-burst"))
    # Then the answer is the one the fluid model gave before the replay checked it
    assert result.fixed is not None and result.fixed.policy.min_replicas == 3
    assert result.cheapest is not None
    assert result.cheapest.policy.target_backlog_per_replica == 40
    assert result.cheapest.policy.polling_interval_s == 0.5
    # And the queue replay of the same jobs through the same replicas agrees within 5 %
    for candidate in (*result.fixed_tried, result.scenario_policy, result.cheapest):
        assert candidate.replayed_p99_ms is not None and candidate.prediction.p99_ms is not None
        assert candidate.replayed_p99_ms == pytest.approx(candidate.prediction.p99_ms, rel=0.05)
    assert result.disagreements == ()


def test_the_plan_says_where_the_replay_and_the_fluid_model_disagree() -> None:
    # Given a limit between the two models' p99 of three fixed replicas (2,073 and 2,138 ms)
    scenario = load_scenario("autoscale-burst")
    result = plan(scenario, headroom=1 - 2100 / 5000)
    # Then the fluid model's choice stands and the plan names the setting the replay misses with
    assert result.fixed is not None and result.fixed.policy.min_replicas == 3
    assert any(
        line.startswith("fixed 3: the fluid model's p99 2,073 ms meets 2100 ms, the replay's")
        and line.endswith("misses it")
        for line in result.disagreements
    ), result.disagreements
    printed = CliRunner().invoke(
        plan_command, ["autoscale-burst", "--headroom", str(1 - 2100 / 5000)]
    )
    assert "the two models disagree: fixed 3" in printed.output
