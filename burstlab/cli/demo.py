"""``burstlab demo``: a short tour, a few sync and async jobs through a fresh local stack.

Imports are lazy, as in every command module: the services run through the same group, and
the baseline and workers must set up metrics before anything imports ``prometheus_client``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click


async def _submit_all(base_url: str, duration_ms: float) -> list[dict[str, Any]]:
    from burstlab.client import ProducerClient, ProducerError

    jobs = [(mode, kind) for mode in ("sync", "async") for kind in ("io", "cpu")]
    async with ProducerClient(base_url) as client:

        async def one(mode: str, kind: str) -> dict[str, Any]:
            try:
                return await client.run(mode, kind, duration_ms, timeout_s=30)
            except ProducerError as exc:
                return {"mode": mode, "kind": kind, "error": exc.error, **exc.body}

        return list(await asyncio.gather(*(one(mode, kind) for mode, kind in jobs)))


def _ms(later: float | None, earlier: float | None) -> str:
    if later is None or earlier is None:
        return "-"
    return f"{(later - earlier) * 1000:.1f}"


def run_demo(workers: int = 2, duration_ms: float = 200) -> int:
    """Run the demo; return 0 if every job succeeded."""
    from rich.console import Console
    from rich.table import Table

    from burstlab.stack.local import LocalStack, StackConfig

    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    with console.status("starting the local stack (Redis, baseline, Celery worker, producer)"):
        local = LocalStack(StackConfig(workers=workers, baseline_workers=workers)).start()
    try:
        console.print(f"stack up: producer {local.producer_url}")
        replies = asyncio.run(_submit_all(local.producer_url, duration_ms))
    finally:
        local.stop()
    table = Table(title=f"burstlab demo: {duration_ms:g} ms jobs, {workers} workers each side")
    for column in (
        "mode",
        "kind",
        "status",
        "job_id",
        "accept→enqueue ms",
        "queue wait ms",
        "service ms",
        "end-to-end ms",
    ):
        table.add_column(column)
    ok = True
    for reply in replies:
        t = reply.get("timings", {})
        ok = ok and reply.get("status") == "succeeded"
        table.add_row(
            reply.get("mode", "?"),
            reply.get("kind") or reply.get("result", {}).get("kind", "?"),
            reply.get("status", reply.get("error", "?")),
            reply.get("job_id", "-")[:8],
            _ms(t.get("enqueued_at"), t.get("submitted_at")),
            _ms(t.get("started_at"), t.get("enqueued_at")),
            _ms(t.get("finished_at"), t.get("started_at")),
            _ms(t.get("finished_at"), t.get("submitted_at")),
        )
    console.print(table)
    console.print("[green]all jobs succeeded[/green]" if ok else "[red]some jobs failed[/red]")
    return 0 if ok else 1


@click.command()
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--duration-ms", type=float, default=200, show_default=True)
def demo(workers: int, duration_ms: float) -> None:
    """Start a stack, run a few sync and async jobs, print their status and timings, stop."""
    raise SystemExit(run_demo(workers=workers, duration_ms=duration_ms))
