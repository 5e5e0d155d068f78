"""What a fault scenario measured, and the table that shows it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaultReport:
    """The figures of one fault scenario.

    ``accepted`` jobs are those the producer answered 202 (async) or 200 (sync) for;
    ``refused`` got a JSON 503 or 429 (not accepted: the client may retry); ``lost`` are
    accepted jobs that never completed plus requests that got no JSON answer at all.
    """

    name: str
    fault: str
    accepted: int = 0
    completed: int = 0
    lost: int = 0
    duplicated: int = 0
    """Extra starts of accepted jobs (a job run twice after a redelivery counts 1)."""
    refused: int = 0
    recovery_s: float | None = None
    rss_mb: tuple[float, float, float] | None = None
    """The producer's resident memory before, at peak, and after (MiB)."""
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.completed >= self.accepted


COLUMNS = ("scenario", "accepted", "completed", "lost", "duplicated", "refused", "recover s",
           "RSS MiB before/peak/after")  # fmt: skip


def _cells(report: FaultReport) -> list[str]:
    rss = "/".join(f"{v:.0f}" for v in report.rss_mb) if report.rss_mb else "-"
    recovery = f"{report.recovery_s:.1f}" if report.recovery_s is not None else "-"
    return [
        report.name,
        f"{report.accepted:,}",
        f"{report.completed:,}",
        f"{report.lost:,}",
        f"{report.duplicated:,}",
        f"{report.refused:,}",
        recovery,
        rss,
    ]


def format_table(reports: list[FaultReport]) -> str:
    """A plain-text table, one row per scenario, then each scenario's notes."""
    rows = [list(COLUMNS), *(_cells(r) for r in reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    for report in reports:
        notes = ", ".join(f"{k} {_fmt(v)}" for k, v in report.notes.items())
        lines.append(f"{report.name}: {report.fault}" + (f"; {notes}" if notes else ""))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
