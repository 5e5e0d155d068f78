"""An example Celery project: render an HTML sales report from JSON rows.

The task waits on its data (a query to a reporting database, stood in for by a sleep that
grows with the rows asked for), then aggregates and renders them on the CPU: its service time
varies from job to job, and it raises on a payload with an unknown currency, as real code does.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import time

from celery import Celery

app = Celery("reports")
app.config_from_object("celeryconfig")

CURRENCIES = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}
QUERY_BASE_S = 0.030
QUERY_PER_ROW_S = 0.00001


def _rows(seed: int, count: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    regions = ["north", "south", "east", "west"]
    return [
        {
            "region": rng.choice(regions),
            "amount": round(rng.uniform(5, 500), 2),
            "sku": f"SKU-{rng.randrange(10_000):05d}",
        }
        for _ in range(count)
    ]


@app.task(name="reports.render")
def render_report(title: str, rows: int, seed: int = 0, currency: str = "EUR") -> dict[str, object]:
    """Aggregate ``rows`` generated sales lines by region and render them as an HTML table."""
    if currency not in CURRENCIES:
        raise ValueError(f"unknown currency {currency!r}")
    rate = CURRENCIES[currency]
    time.sleep(QUERY_BASE_S + QUERY_PER_ROW_S * rows)  # the database query
    lines = _rows(seed, rows)
    totals: dict[str, float] = {}
    for line in lines:
        totals[str(line["region"])] = (
            totals.get(str(line["region"]), 0.0)
            + float(
                line["amount"]  # type: ignore[arg-type]
            )
            * rate
        )
    body = "".join(
        f"<tr><td>{html.escape(str(line['sku']))}</td><td>{line['region']}</td>"
        f"<td>{float(line['amount']) * rate:.2f}</td></tr>"  # type: ignore[arg-type]
        for line in lines
    )
    page = f"<h1>{html.escape(title)}</h1><table>{body}</table>"
    digest = hashlib.sha256(page.encode()).hexdigest()
    for _ in range(rows // 50):  # a checksum pass per 50 rows, as a PDF renderer would paginate
        digest = hashlib.sha256((digest + json.dumps(totals)).encode()).hexdigest()
    return {"title": title, "bytes": len(page), "sha256": digest}
