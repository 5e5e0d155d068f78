"""Comparing two results folders run by run, as a rich table and a plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from burstlab.experiments.compare import compare, plot_comparison, render_table


def _run(
    mode: str, workers: int, throughput: float, p50: float, p99: float, drain: float
) -> dict[str, Any]:
    return {
        "mode": mode,
        "workers": workers,
        "throughput_per_s": throughput,
        "latency_ms": {"p50": p50, "p99": p99},
        "drain_s": drain,
    }


def _folder(root: Path, name: str, runs: list[dict[str, Any]]) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps({"scenario": "burst", "runs": runs}))
    return folder


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """Before: sync x1 and async x1; after: async x1 faster, and a new async x4."""
    before = _folder(
        tmp_path, "before", [_run("async", 1, 20, 100, 900, 10), _run("sync", 1, 18, 500, 9000, 11)]
    )
    after = _folder(
        tmp_path, "after", [_run("async", 1, 25, 80, 450, 8), _run("async", 4, 70, 30, 200, 3)]
    )
    return before, after


def test_runs_are_matched_by_mode_and_workers_with_deltas_b_minus_a(
    folders: tuple[Path, Path],
) -> None:
    # Given two results folders, When they are compared
    table = compare(*folders)
    # Then rows are sync first then by workers, each run appearing once
    assert [(r.mode, r.workers) for r in table.rows] == [("sync", 1), ("async", 1), ("async", 4)]
    assert (table.label_a, table.label_b) == ("before", "after")
    # And the matched run has deltas and relative changes from a to b
    matched = table.rows[1]
    assert matched.delta("throughput_per_s") == 5
    assert matched.delta("p99_ms") == -450
    assert matched.relative("p99_ms") == pytest.approx(-0.5)
    assert matched.delta("drain_s") == -2


def test_a_run_missing_on_one_side_has_no_delta(folders: tuple[Path, Path]) -> None:
    # Given sync x1 only before and async x4 only after
    sync_only, new_run = compare(*folders).rows[0], compare(*folders).rows[2]
    # Then their missing side is None and so is every delta
    assert sync_only.b is None and new_run.a is None
    assert sync_only.delta("p50_ms") is None and new_run.relative("throughput_per_s") is None


def test_the_rich_table_shows_both_sides_and_colours_improvements(
    folders: tuple[Path, Path],
) -> None:
    # Given a comparison, When it is rendered
    rendered = render_table(compare(*folders))
    console = Console(record=True, width=200)
    console.print(rendered)
    text = console.export_text()
    # Then there is a row per run, 1 + 3 x 4 columns, and the halved p99 reads -50 %
    assert rendered.row_count == 3 and len(rendered.columns) == 13
    assert "async x1" in text and "-50%" in text and "450.0" in text


def test_the_comparison_plot_is_a_png(folders: tuple[Path, Path], tmp_path: Path) -> None:
    # Given a comparison, When it is plotted, Then a non-empty PNG is written
    path = plot_comparison(compare(*folders), tmp_path / "compare.png")
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5_000


def test_a_folder_without_summary_json_is_named_in_the_error(tmp_path: Path) -> None:
    # Given an empty folder, When it is compared, Then the error names its summary.json
    with pytest.raises(FileNotFoundError, match=r"summary\.json"):
        compare(tmp_path, tmp_path)


def test_sweeps_are_compared_on_their_slo_capacity(tmp_path: Path) -> None:
    # Given two sweeps of async x2 whose SLO capacity rose from 30 to 36 jobs/s
    def sweep(capacity: float) -> dict[str, Any]:
        return {**_run("async", 2, 40, 60, 200, 1), "capacity": {"slo_capacity_per_s": capacity}}

    before = _folder(tmp_path, "before", [sweep(30.0)])
    after = _folder(tmp_path, "after", [sweep(36.0)])
    # When they are compared and rendered
    table = compare(before, after)
    console = Console(record=True, width=240)
    console.print(render_table(table))
    # Then the SLO capacity is a column and its change reads +20 %
    assert table.rows[0].relative("slo_capacity_per_s") == pytest.approx(0.2)
    text = console.export_text()
    assert "SLO capacity /s" in text and "+20%" in text
