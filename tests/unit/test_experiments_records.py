"""Job rows: derived latencies by mode, and a lossless CSV round trip."""

from __future__ import annotations

import csv
from dataclasses import fields, replace
from pathlib import Path

import pytest

from burstlab.experiments.model.records import COLUMNS, JobRow, read_jobs_csv, write_jobs_csv

ASYNC = JobRow(
    mode="async",
    workers=2,
    job_id="a1",
    kind="io",
    duration_ms=50.0,
    intended=100.0,
    sent=100.002,
    accepted=100.010,
    submitted=100.004,
    enqueued=100.006,
    started=100.5,
    finished=100.55,
    http_status=202,
    outcome="succeeded",
    in_burst=True,
    worker="4242@node-1",
)


def test_async_latency_runs_from_the_intended_send_to_the_finish() -> None:
    # Given an async job sent 2 ms late that finished at +550 ms
    row = ASYNC
    # Then latency is corrected from the intended send, and the parts are measured where they ran
    assert row.end == 100.55
    assert row.latency_s == pytest.approx(0.55)
    assert row.latency_uncorrected_s == pytest.approx(0.548)
    assert row.accept_latency_s == pytest.approx(0.010)
    assert row.queue_wait_s == pytest.approx(0.494)
    assert row.service_s == pytest.approx(0.05)
    assert row.lag_s == pytest.approx(0.002)


def test_sync_latency_ends_when_the_http_answer_arrives() -> None:
    # Given a sync job whose answer came at +700 ms
    row = replace(ASYNC, mode="sync", accepted=100.7, http_status=200)
    # Then its end and latency use the answer, not the worker's finish
    assert row.end == 100.7
    assert row.latency_s == pytest.approx(0.7)


def test_missing_times_give_missing_latencies() -> None:
    # Given an async job that was accepted but never started
    row = replace(ASYNC, started=None, finished=None, outcome="lost")
    # Then only the accept latency can be computed
    assert row.latency_s is None and row.queue_wait_s is None and row.service_s is None
    assert row.accept_latency_s == pytest.approx(0.010)


def test_rows_survive_a_csv_round_trip_with_empty_cells_for_none(tmp_path: Path) -> None:
    # Given a finished row and a transport error with no times at all
    error = replace(
        ASYNC, job_id="e", accepted=None, submitted=None, enqueued=None, started=None,
        finished=None, http_status=0, outcome="error", in_burst=False,
    )  # fmt: skip
    path = tmp_path / "jobs.csv"
    # When they are written and read back
    write_jobs_csv(path, [ASYNC, error])
    # Then they are equal, the header is the contract, and None is an empty cell
    assert read_jobs_csv(path) == [ASYNC, error]
    with path.open(newline="") as handle:
        header, _, error_cells = list(csv.reader(handle))
    assert tuple(header) == COLUMNS
    assert error_cells[COLUMNS.index("accepted")] == ""
    assert error_cells[COLUMNS.index("in_burst")] == "false"


def test_the_csv_columns_are_exactly_the_row_fields() -> None:
    # Given the row dataclass, Then every field has a column and no column lacks a field
    assert [f.name for f in fields(JobRow)] == list(COLUMNS)


def test_a_bad_csv_row_is_reported_by_line(tmp_path: Path) -> None:
    # Given a file whose second data row has an unknown outcome
    path = tmp_path / "jobs.csv"
    write_jobs_csv(path, [ASYNC, replace(ASYNC, outcome="vanished")])
    # When it is read, Then the error names line 3
    with pytest.raises(ValueError, match="line 3: bad mode 'async' or outcome 'vanished'"):
        read_jobs_csv(path)
