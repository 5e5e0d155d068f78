"""Reports: PNG plots, Markdown with tables and links, and a self-contained HTML page."""

from __future__ import annotations

import base64
import heapq
import re
from pathlib import Path
from typing import Any

import pytest

from burstlab.experiments.model.records import JobRow
from burstlab.experiments.model.stats import summarize_run
from burstlab.experiments.model.theory import theory_inputs
from burstlab.experiments.report import write_report
from burstlab.scenario.arrivals import BurstArrival
from burstlab.scenario.schedule import build_schedule
from burstlab.scenario.spec import JobMix, Scenario
from burstlab.scenario.thresholds import Thresholds, check_thresholds

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCENARIO = Scenario(
    "mini-burst",
    "30 jobs at once",
    (JobMix("io", 50.0),),
    BurstArrival(size=30, at_s=0.5, duration_s=1.0, base_rate=4.0),
    Thresholds(async_accept_p99_ms=50, max_lost=0),
    workers=(1, 2),
)


def _simulate(mode: str, workers: int, service_s: float, t0: float = 1e9) -> list[JobRow]:
    """Serve the schedule FIFO with fixed service, recording rows as the runner does."""
    free_at = [t0] * workers
    rows = []
    for i, item in enumerate(build_schedule(SCENARIO).items):
        intended = t0 + item.offset_s
        sent = intended + 0.0005
        enqueued = sent + 0.001
        started = max(enqueued, heapq.heappop(free_at))
        finished = started + service_s
        heapq.heappush(free_at, finished)
        accepted = finished + 0.001 if mode == "sync" else sent + 0.002
        rows.append(
            JobRow(
                mode,
                workers,
                f"{mode}{workers}-{i}",
                item.kind,
                item.duration_ms,
                intended,
                sent,
                accepted,
                sent + 0.0005,
                enqueued,
                started,
                finished,
                200 if mode == "sync" else 202,
                "succeeded",
                item.in_burst,
            )
        )
    return rows


@pytest.fixture(scope="module")
def results() -> tuple[dict[str, Any], list[JobRow]]:
    """A summary and rows for sync and async on 1 and 2 workers; async x2 claims a wrong S."""
    rows: list[JobRow] = []
    runs = []
    for mode in ("sync", "async"):
        for workers in (1, 2):
            run_rows = _simulate(mode, workers, 0.05)
            rows += run_rows
            claimed_s = 0.02 if (mode, workers) == ("async", 2) else 0.05
            inputs = theory_inputs(SCENARIO, workers, claimed_s)
            runs.append(summarize_run(run_rows, mode, workers, inputs))
    checks = [c.to_dict() for c in check_thresholds(SCENARIO.thresholds, runs)]
    summary = {"scenario": SCENARIO.name, "description": "<b>30</b> jobs", "runs": runs}
    return {**summary, "thresholds": checks}, rows


def test_the_report_writes_six_non_empty_pngs_and_both_documents(
    tmp_path: Path, results: tuple[dict[str, Any], list[JobRow]]
) -> None:
    # Given a results folder's summary and rows, When the report is written
    summary, rows = results
    written = write_report(tmp_path / "out", summary, rows)
    # Then six PNG files and report.md and report.html exist inside the folder
    pngs = [p for p in written if p.suffix == ".png"]
    assert len(pngs) == 6
    for png in pngs:
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000
    assert {p.name for p in written} >= {"report.md", "report.html", "latency_cdf.png"}
    assert all(p.parent == tmp_path / "out" for p in written)


def test_the_markdown_has_percentile_and_theory_tables_and_links_every_plot(
    tmp_path: Path, results: tuple[dict[str, Any], list[JobRow]]
) -> None:
    # Given a written report
    summary, rows = results
    written = write_report(tmp_path, summary, rows)
    markdown = (tmp_path / "report.md").read_text()
    # Then it has the run and latency tables, links every PNG, and flags the wrong prediction
    assert "| run | offered | completed |" in markdown
    assert "| sync x1 | 34 | 34 |" in markdown
    assert "## Latency (ms, from intended send)" in markdown
    for png in (p for p in written if p.suffix == ".png"):
        assert f"]({png.name})" in markdown
    flagged = [line for line in markdown.splitlines() if "\u26a0" in line]
    assert any(line.startswith("| async x2 | drain_s |") for line in flagged)
    assert not any(line.startswith("| sync x1 | drain_s |") for line in flagged)
    assert "| async_accept_p99_ms | async x1 | 50 | 2.50 | pass |" in markdown


def test_the_html_embeds_every_plot_as_a_data_uri_and_escapes_text(
    tmp_path: Path, results: tuple[dict[str, Any], list[JobRow]]
) -> None:
    # Given a written report
    summary, rows = results
    write_report(tmp_path, summary, rows)
    page = (tmp_path / "report.html").read_text()
    # Then it holds six base64 PNGs, links to no files, and escapes the description
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 6
    assert all(base64.b64decode(image).startswith(PNG_MAGIC) for image in images)
    assert ".png" not in page
    assert "&lt;b&gt;30&lt;/b&gt; jobs" in page and "<style>" in page


def test_a_report_with_a_single_async_run_and_no_theory_still_renders(tmp_path: Path) -> None:
    # Given only one async run summarized without theory inputs
    rows = _simulate("async", 1, 0.05)
    summary = {"runs": [summarize_run(rows, "async", 1)]}
    # When the report is written, Then every file exists and there is no theory table
    written = write_report(tmp_path, summary, rows)
    assert all(p.stat().st_size > 0 for p in written)
    assert "Theory vs measured" not in (tmp_path / "report.md").read_text()
