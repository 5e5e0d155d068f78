"""The GIL switch interval of processes serving metrics from a thread is a checked setting."""

from __future__ import annotations

import pytest

from burstlab.telemetry.exposition import (
    DEFAULT_SWITCH_INTERVAL_MS,
    SWITCH_INTERVAL_ENV,
    switch_interval_ms,
)


def test_unset_or_blank_gives_the_default_and_a_number_is_taken() -> None:
    assert switch_interval_ms({}) == DEFAULT_SWITCH_INTERVAL_MS
    assert switch_interval_ms({SWITCH_INTERVAL_ENV: " "}) == DEFAULT_SWITCH_INTERVAL_MS
    assert switch_interval_ms({SWITCH_INTERVAL_ENV: "5"}) == 5.0


@pytest.mark.parametrize("raw", ["0", "-1", "101", "nan", "fast"])
def test_a_bad_value_is_refused_with_the_setting_named(raw: str) -> None:
    with pytest.raises(ValueError, match=SWITCH_INTERVAL_ENV):
        switch_interval_ms({SWITCH_INTERVAL_ENV: raw})
