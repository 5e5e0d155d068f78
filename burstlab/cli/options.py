"""Options and values that several command groups share: one definition each."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from burstlab.settings import BROKERS, QUEUE_TYPES

F = TypeVar("F", bound=Callable[..., Any])


def broker_option(help: str) -> Callable[[F], F]:
    """``--broker redis|rabbitmq`` (default redis): where async jobs are queued."""
    return click.option(
        "--broker", type=click.Choice(BROKERS), default="redis", show_default=True, help=help
    )


def queue_type_option(f: F) -> F:
    """``--queue-type classic|quorum``: the RabbitMQ queue type."""
    return click.option(
        "--queue-type",
        type=click.Choice(QUEUE_TYPES),
        default="classic",
        show_default=True,
        help="The RabbitMQ queue type.",
    )(f)


def task_target_options(f: F) -> F:
    """``--app``, ``--task``, ``--payloads`` (parameters ``task_app``, ``task_name``,
    ``payloads``): a task of the user's own Celery app as what the jobs run."""
    for option in reversed(
        (
            click.option(
                "--app",
                "task_app",
                help="Measure your own Celery task: the app, MODULE:ATTR, imported as "
                "`celery -A` does (the current folder on the path). With --task and --payloads.",
            ),
            click.option(
                "--task", "task_name", help="The task's registered name, e.g. reports.render."
            ),
            click.option(
                "--payloads",
                help='A JSON-lines file, one {"args": [...], "kwargs": {...}} per line, cycled in '
                "order.",
            ),
        )
    ):
        f = option(f)
    return f


def live_option(f: F) -> F:
    """``--no-live``: no live progress display (logs and CI)."""
    return click.option("--no-live", is_flag=True, help="No live progress display.")(f)


def out_dir_option(help: str) -> Callable[[F], F]:
    """``--out DIR`` (parameter ``out_dir``): where a run writes its results."""
    return click.option("--out", "out_dir", type=click.Path(path_type=Path), help=help)


def burst_options(burst_s: float) -> Callable[[F], F]:
    """``--workers``, ``--rate``, ``--burst-s`` and ``--duration-ms`` of a monitored burst."""

    def decorate(f: F) -> F:
        for option in reversed(
            (
                click.option("--workers", type=int, default=4, show_default=True),
                click.option(
                    "--rate", type=float, default=60, show_default=True, help="Jobs/s in a burst."
                ),
                click.option("--burst-s", type=float, default=burst_s, show_default=True),
                click.option("--duration-ms", type=float, default=100, show_default=True),
            )
        ):
            f = option(f)
        return f

    return decorate


def int_list(value: str) -> tuple[int, ...]:
    """``1,2,4``: worker counts, each at least 1."""
    try:
        numbers = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from exc
    if not numbers or any(n < 1 for n in numbers):
        raise click.BadParameter("worker counts must be integers of at least 1")
    return numbers


def broker_list(value: str) -> tuple[str, ...]:
    """``redis,rabbitmq``: brokers, each named once."""
    brokers = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    bad = [b for b in brokers if b not in BROKERS]
    if not brokers or bad:
        raise click.BadParameter(f"brokers are {' and/or '.join(BROKERS)}, got {value!r}")
    return brokers


def mode_list(value: str) -> tuple[str, ...]:
    """``sync,async``: the modes to run."""
    modes = tuple(part.strip() for part in value.split(",") if part.strip())
    bad = [m for m in modes if m not in ("sync", "async")]
    if not modes or bad:
        raise click.BadParameter(f"modes are sync and/or async, got {value!r}")
    return modes


def failed_threshold_lines(checks: Iterable[Any]) -> list[str]:
    """One line per threshold a run failed: its name, subject, measured value and limit."""
    return [
        f"{check.name} {check.subject}: measured {check.measured}, limit {check.limit}"
        for check in checks
        if check.passed is False
    ]
