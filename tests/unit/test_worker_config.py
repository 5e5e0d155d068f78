"""Worker settings: the visibility timeout may be shortened for short jobs, never to nothing."""

from __future__ import annotations

import pytest

from workers.config import DEFAULT_VISIBILITY_TIMEOUT_S, WorkerConfig


def test_the_default_visibility_timeout_outlasts_the_longest_job() -> None:
    config = WorkerConfig.from_env({})
    assert config.visibility_timeout_s == DEFAULT_VISIBILITY_TIMEOUT_S
    assert not config.redelivers_running_jobs


def test_a_short_visibility_timeout_is_allowed_but_flagged_as_redelivering_long_jobs() -> None:
    config = WorkerConfig.from_env({"VISIBILITY_TIMEOUT_S": "15"})
    assert config.visibility_timeout_s == 15.0
    assert config.redelivers_running_jobs


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_visibility_timeout_that_is_not_positive_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="visibility_timeout_s must be positive"):
        WorkerConfig.from_env({"VISIBILITY_TIMEOUT_S": value})
