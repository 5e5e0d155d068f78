"""Joining the sweep panels' instant queries into one row per step, as the panel's merge does."""

from __future__ import annotations

import math

from burstlab.dashboards.render_sweep import join_rows, range_window


def _sample(mode: str, rho: str, value: float) -> dict[str, object]:
    return {"metric": {"mode": mode, "rho": rho, "workers": "2"}, "value": [0, str(value)]}


def test_two_queries_join_into_one_row_per_step_with_a_gap_where_one_lacks_it() -> None:
    # Given throughput for three steps and p99 for two of them
    throughput = [
        _sample("sync", "0.3", 12),
        _sample("sync", "0.7", 28),
        _sample("async", "0.3", 11),
    ]
    p99 = [_sample("sync", "0.7", 0.21), _sample("sync", "0.3", 0.06)]
    # When they are joined on the step's labels
    rows = join_rows([throughput, p99], ("mode", "workers", "rho"))
    # Then there is one row per step, in label order, NaN where a query had no value
    assert [labels["mode"] + labels["rho"] for labels, _ in rows] == [
        "async0.3",
        "sync0.3",
        "sync0.7",
    ]
    assert rows[1][1] == [12.0, 0.06] and rows[2][1] == [28.0, 0.21]
    assert rows[0][1][0] == 11.0 and math.isnan(rows[0][1][1])


def test_the_range_window_is_the_drawn_range_in_whole_seconds() -> None:
    assert range_window(100.0, 190.4) == "90s"
    assert range_window(100.0, 100.2) == "1s"
