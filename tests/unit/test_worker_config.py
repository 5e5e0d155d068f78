"""Worker settings: a short visibility timeout, safe with the reliable fetch; never nothing."""

from __future__ import annotations

import pytest

from workers.config import DEFAULT_VISIBILITY_TIMEOUT_S, WorkerConfig


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
