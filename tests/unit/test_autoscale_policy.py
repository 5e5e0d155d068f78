"""The autoscale policy: read from a scenario's [autoscale] table, refused with the field named,
and the HPA's replica formula."""

from __future__ import annotations

import pytest

from burstlab.autoscale import AutoscalePolicy, desired_replicas, parse_autoscale
from burstlab.scenario.spec import ScenarioError, load_scenario, loads_scenario

SCENARIO = """
name = "t"
[[job]]
kind = "io"
duration_ms = 10
[arrival]
pattern = "steady"
rate = 5
duration_s = 2
"""


def test_an_empty_autoscale_table_gives_the_defaults() -> None:
    assert parse_autoscale({}) == AutoscalePolicy()
    assert AutoscalePolicy().metric == "queued"
    # A minimum above the default maximum raises the maximum with it, rather than failing
    assert parse_autoscale({"min_replicas": 12}).max_replicas == 12


def test_every_field_is_read_from_the_table() -> None:
    # Given a table setting every field to a non-default value
    table = {
        "min_replicas": 2,
        "max_replicas": 9,
        "target_backlog_per_replica": 7,
        "activation_backlog": 3,
        "polling_interval_s": 0.5,
        "scale_up_stabilization_s": 10,
        "scale_down_stabilization_s": 120,
        "scale_up_max_step": 3,
        "scale_down_max_step": 2,
        "step_period_s": 30,
        "replica_concurrency": 4,
        "replica_start_delay_s": 2.5,
        "metric": "queued+reserved",
    }
    # When it is parsed, Then each value lands in its field
    policy = parse_autoscale(table)
    assert {name: getattr(policy, name) for name in table} == table
    assert policy.max_workers == 36


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"min_replicas": 5, "max_replicas": 4}, "autoscale.min_replicas: must be <= max_replicas"),
        ({"target_backlog_per_replica": 0}, "autoscale.target_backlog_per_replica"),
        ({"target_backlog_per_replica": -3}, "autoscale.target_backlog_per_replica"),
        ({"polling_interval_s": 0.2}, "autoscale.polling_interval_s: must be a number >= 0.5"),
        ({"metric": "unacked"}, 'autoscale.metric: must be one of "queued", "queued+reserved"'),
        ({"max_replica": 4}, 'autoscale: unknown key "max_replica"'),
        ({"max_replicas": 0}, "autoscale.max_replicas"),
        ({"scale_down_stabilization_s": 4000}, "autoscale.scale_down_stabilization_s"),
        ({"replica_concurrency": 1.5}, "autoscale.replica_concurrency"),
    ],
)
def test_bad_input_is_refused_with_the_field_named(table: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("+", r"\+")):
        parse_autoscale(table)


def test_a_policy_built_in_code_is_checked_like_one_read_from_toml() -> None:
    with pytest.raises(ScenarioError, match=r"autoscale\.min_replicas"):
        AutoscalePolicy(min_replicas=3, max_replicas=2)
    with pytest.raises(ScenarioError, match=r"autoscale\.metric"):
        AutoscalePolicy(metric="reserved")


def test_a_scenario_without_autoscale_has_none_and_one_with_it_has_the_policy() -> None:
    assert loads_scenario(SCENARIO).autoscale is None
    scenario = loads_scenario(SCENARIO + "[autoscale]\nmax_replicas = 3\n")
    assert scenario.autoscale == AutoscalePolicy(max_replicas=3)


def test_a_bad_autoscale_table_in_a_file_names_the_file_and_the_field() -> None:
    with pytest.raises(ScenarioError, match=r"^x\.toml: autoscale\.polling_interval_s"):
        loads_scenario(SCENARIO + "[autoscale]\npolling_interval_s = 0\n", "x.toml")


def test_the_shipped_autoscale_burst_bursts_at_several_times_its_minimum_capacity() -> None:
    # Given the shipped scenario
    scenario = load_scenario("autoscale-burst")
    policy = scenario.autoscale
    assert policy is not None
    # Then its burst rate is at least three times what the minimum replicas can serve
    arrival = scenario.arrival
    burst_rate = arrival.size / arrival.window_s  # type: ignore[union-attr]
    min_capacity = (
        policy.min_replicas * policy.replica_concurrency * 1000 / scenario.mean_duration_ms
    )
    assert burst_rate >= 3 * min_capacity
    assert policy.min_replicas < policy.max_replicas
    assert {job.kind for job in scenario.jobs} == {"io"}


@pytest.mark.parametrize(
    ("backlog", "expected"),
    [(0, 1), (1, 1), (20, 1), (21, 2), (100, 5), (1000, 6)],
)
def test_the_desired_count_is_the_backlog_over_the_target_rounded_up_and_clamped(
    backlog: int, expected: int
) -> None:
    policy = AutoscalePolicy(min_replicas=1, max_replicas=6, target_backlog_per_replica=20)
    assert desired_replicas(policy, backlog) == expected


def test_activation_decides_only_between_zero_and_one_replica() -> None:
    # Given a policy that may scale to zero and activates above 5 queued jobs
    to_zero = AutoscalePolicy(min_replicas=0, max_replicas=4, target_backlog_per_replica=10,
                              activation_backlog=5)  # fmt: skip
    # Then at or below the activation backlog it wants none, above it at least one
    assert desired_replicas(to_zero, 0) == 0
    assert desired_replicas(to_zero, 5) == 0
    assert desired_replicas(to_zero, 6) == 1
    assert desired_replicas(to_zero, 31) == 4
    # And with a minimum of one, activation changes nothing
    kept = AutoscalePolicy(min_replicas=1, max_replicas=4, target_backlog_per_replica=2,
                           activation_backlog=5)  # fmt: skip
    assert desired_replicas(kept, 4) == 2
    with pytest.raises(ValueError, match="backlog"):
        desired_replicas(kept, -1)
