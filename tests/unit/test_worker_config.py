"""Worker settings: a short visibility timeout, safe with the reliable fetch; never nothing."""

from __future__ import annotations

import pytest

from burstlab.jobs.delivery import DEFAULT_VISIBILITY_TIMEOUT_S
from workers.config import WorkerConfig


def test_the_default_visibility_timeout_is_short_and_safe_with_the_reliable_fetch() -> None:
    config = WorkerConfig.from_env({})
    assert config.visibility_timeout_s == DEFAULT_VISIBILITY_TIMEOUT_S <= 15
    assert config.fetch == "reliable" and not config.redelivers_running_jobs


def test_a_short_visibility_timeout_with_kombus_own_fetch_is_flagged_as_redelivering() -> None:
    config = WorkerConfig.from_env({"VISIBILITY_TIMEOUT_S": "15", "WORKER_FETCH": "kombu"})
    assert config.visibility_timeout_s == 15.0
    assert config.redelivers_running_jobs


def test_an_unknown_fetch_is_refused_with_the_setting_named() -> None:
    with pytest.raises(ValueError, match="fetch must be one of reliable, kombu"):
        WorkerConfig.from_env({"WORKER_FETCH": "fast"})


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_visibility_timeout_that_is_not_positive_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="visibility_timeout_s must be positive"):
        WorkerConfig.from_env({"VISIBILITY_TIMEOUT_S": value})


def test_the_delivery_settings_default_to_late_acks_and_a_prefetch_of_one() -> None:
    config = WorkerConfig.from_env({})
    assert config.acks_late and config.prefetch_multiplier == 1 and not config.disable_prefetch


def test_the_delivery_settings_are_read_from_the_environment() -> None:
    config = WorkerConfig.from_env(
        {
            "WORKER_PREFETCH_MULTIPLIER": "4",
            "WORKER_ACKS_LATE": "off",
            "WORKER_DISABLE_PREFETCH": "1",
            "WORKER_POOL": "threads",
        }
    )
    assert (config.prefetch_multiplier, config.acks_late, config.disable_prefetch) == (
        4,
        False,
        True,
    )
    assert config.pool == "threads"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORKER_ACKS_LATE": "maybe"}, r"acks_late \(WORKER_ACKS_LATE\) must be one of"),
        ({"WORKER_DISABLE_PREFETCH": "2"}, r"disable_prefetch \(WORKER_DISABLE_PREFETCH\)"),
        ({"WORKER_PREFETCH_MULTIPLIER": "four"}, r"prefetch_multiplier \(WORKER_PREFETCH_MULTI"),
        ({"WORKER_PREFETCH_MULTIPLIER": "-1"}, "prefetch_multiplier must be 0 .no limit. or more"),
        ({"WORKER_POOL": "gevent"}, "pool must be one of prefork, threads, solo"),
    ],
)
def test_a_bad_delivery_setting_is_refused_with_the_field_named(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        WorkerConfig.from_env(env)


def test_the_celery_settings_follow_the_delivery_settings() -> None:
    from workers.app import celery_settings

    default = celery_settings(WorkerConfig())
    assert default["task_acks_late"] is True and default["worker_prefetch_multiplier"] == 1
    assert default["worker_disable_prefetch"] is False
    changed = celery_settings(
        WorkerConfig(acks_late=False, prefetch_multiplier=4, disable_prefetch=True)
    )
    assert changed["task_acks_late"] is False and changed["worker_prefetch_multiplier"] == 4
    assert changed["worker_disable_prefetch"] is True
