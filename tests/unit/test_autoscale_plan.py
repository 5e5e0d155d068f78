"""``burstlab plan``: the fluid model picks the smallest fixed count and the cheapest policy
that meet the SLO; a scenario without an SLO or a policy is refused with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from burstlab.autoscale.plan import plan
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
