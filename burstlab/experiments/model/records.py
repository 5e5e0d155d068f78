"""The per-job row the runner records, its derived latencies, and its CSV form (jobs.csv)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MODES = ("sync", "async")
OUTCOMES = ("succeeded", "failed", "rejected", "lost", "error")
COLUMNS = (
    "mode", "workers", "job_id", "kind", "duration_ms", "intended", "sent", "accepted",
    "submitted", "enqueued", "started", "finished", "http_status", "outcome", "in_burst",
    "cpu_s", "retries", "timed_out", "worker",
)  # fmt: skip
TASK_COLUMNS = ("cpu_s", "retries", "timed_out", "worker")
"""Columns added after the first ones; a jobs.csv written before them reads as 0 / empty."""
_OPTIONAL_TIMES = ("accepted", "submitted", "enqueued", "started", "finished")


@dataclass(frozen=True)
class JobRow:
    """One job of one run. Times are epoch seconds; None when the event never happened.

    ``intended`` is the scheduled send time, ``sent`` the actual one, ``accepted`` when the HTTP
    answer arrived; ``submitted``..``finished`` come from the job's own timings. ``outcome`` is
    succeeded | failed (job raised) | rejected (HTTP 4xx/5xx) | lost (accepted async job not
    finished within the drain timeout) | error (no HTTP answer). ``http_status`` is 0 without one.
    """

    mode: str
    workers: int
    job_id: str
    kind: str
    duration_ms: float
    intended: float
    sent: float
    accepted: float | None
    submitted: float | None
    enqueued: float | None
    started: float | None
    finished: float | None
    http_status: int
    outcome: str
    in_burst: bool
    cpu_s: float | None = None
    """CPU time the job used on its thread, where the service measured it."""
    retries: int = 0
    """Times the task asked to be retried before this outcome (a user's task)."""
    timed_out: bool = False
    """Failed because it exceeded a Celery time limit."""
    worker: str = ""
    """The Celery worker (``name@host``) or baseline process that ran the job, when known."""

    @property
    def end(self) -> float | None:
        """When the caller has the result: the HTTP answer for sync, the finish for async."""
        return self.accepted if self.mode == "sync" else self.finished

    @property
    def latency_s(self) -> float | None:
        """End minus intended send: corrected for coordinated omission."""
        return _minus(self.end, self.intended)

    @property
    def latency_uncorrected_s(self) -> float | None:
        """End minus actual send, as a closed-loop tool would report it."""
        return _minus(self.end, self.sent)

    @property
    def accept_latency_s(self) -> float | None:
        """HTTP answer minus intended send."""
        return _minus(self.accepted, self.intended)

    @property
    def queue_wait_s(self) -> float | None:
        """Time the job waited in the queue before a worker started it."""
        return _minus(self.started, self.enqueued)

    @property
    def service_s(self) -> float | None:
        """Time a worker spent on the job."""
        return _minus(self.finished, self.started)

    @property
    def lag_s(self) -> float:
        """How late the generator sent the job."""
        return self.sent - self.intended


def _minus(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    return later - earlier


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def write_jobs_csv(path: Path | str, rows: Iterable[JobRow]) -> Path:
    """Write rows with the COLUMNS header; None becomes an empty cell. Returns the path."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_cell(getattr(row, name)) for name in COLUMNS])
    return path


def _parse(record: dict[str, str], line: int) -> JobRow:
    def optional(name: str) -> float | None:
        return float(record[name]) if record[name] != "" else None

    try:
        row = JobRow(
            mode=record["mode"],
            workers=int(record["workers"]),
            job_id=record["job_id"],
            kind=record["kind"],
            duration_ms=float(record["duration_ms"]),
            intended=float(record["intended"]),
            sent=float(record["sent"]),
            http_status=int(record["http_status"]),
            outcome=record["outcome"],
            in_burst=record["in_burst"].lower() in ("true", "1"),
            **{name: optional(name) for name in _OPTIONAL_TIMES},
            cpu_s=float(record["cpu_s"]) if record.get("cpu_s") else None,
            retries=int(record.get("retries") or 0),
            timed_out=(record.get("timed_out") or "").lower() in ("true", "1"),
            worker=record.get("worker") or "",
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"line {line}: bad job row: {exc}") from exc
    if row.mode not in MODES or row.outcome not in OUTCOMES:
        raise ValueError(f"line {line}: bad mode {row.mode!r} or outcome {row.outcome!r}")
    return row


def read_jobs_csv(path: Path | str) -> list[JobRow]:
    """Read rows written by write_jobs_csv; raises ValueError naming the bad line."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(COLUMNS) - set(TASK_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(sorted(missing))}")
        return [_parse(record, i) for i, record in enumerate(reader, start=2)]
