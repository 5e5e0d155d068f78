"""The checks of ``burstlab monitor verify`` as a table on the terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from burstlab.experiments.monitor.checks import Check

_TIMES = ("burst start", "burst end")


def _cell(check: Check, value: float, start: float) -> str:
    if not math.isfinite(value):
        return "—"
    if check.quantity in _TIMES:
        return f"{value - start:.0f} s"
    return f"{value:.0f}" if value == round(value) else f"{value:.1f}"


def checks_table(checks: Sequence[Check], start: float) -> Table:
    """One row per check; times shown as seconds since ``start``."""
    table = Table(title="Prometheus against the ground truth (jobs.csv)")
    for name in ("mode", "quantity", "jobs.csv", "Prometheus", "difference", "bound", ""):
        table.add_column(name, justify="left" if name in ("mode", "quantity") else "right")
    for check in checks:
        difference = check.difference
        if not math.isfinite(difference):
            shown = "—"
        elif check.quantity in _TIMES:
            shown = f"{difference:+.1f} s"
        elif check.bound == "exact":
            shown = f"{difference:+.0f}"
        else:
            shown = f"{difference / check.truth:+.1%}" if check.truth else "—"
        table.add_row(
            check.mode,
            check.quantity,
            _cell(check, check.truth, start),
            _cell(check, check.observed, start),
            shown,
            check.bound,
            "[green]ok[/green]" if check.passed else "[red]OUT[/red]",
        )
    return table


def print_checks(checks: Sequence[Check], start: float, console: Console | None = None) -> None:
    """Print the checks' table."""
    (console or Console()).print(checks_table(checks, start))
