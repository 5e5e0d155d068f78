"""burstlab's Grafana dashboards as code, built with Grafana's SDK (``grafana-foundation-sdk``).

The JSON files in ``monitoring/grafana/dashboards/`` are generated from here and committed, so
compose and Kubernetes provision them as files; ``burstlab monitor dashboards`` rewrites them and
``--check`` (and a unit test) fails when a file differs from what the code generates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from burstlab.dashboards.files import DASHBOARDS_DIR
from burstlab.dashboards.services import services
from burstlab.dashboards.sync_vs_async import sync_vs_async

DASHBOARDS: dict[str, Callable[[], Any]] = {
    "services.json": services,
    "sync-vs-async.json": sync_vs_async,
}
"""Each dashboard file and the function that builds it."""


def dashboard_text(build: Callable[[], Any]) -> str:
    """The JSON file of one dashboard: 2-space indent, ASCII, a final newline."""
    return json.dumps(build(), cls=JSONEncoder, indent=2) + "\n"


def generated() -> dict[str, str]:
    """Every dashboard file's generated text, by file name."""
    return {name: dashboard_text(build) for name, build in DASHBOARDS.items()}


def write_dashboards(folder: Path = DASHBOARDS_DIR) -> list[Path]:
    """Write every dashboard file into ``folder``; returns the files that changed."""
    changed = []
    for name, text in generated().items():
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def stale_dashboards(folder: Path = DASHBOARDS_DIR) -> list[str]:
    """The dashboard files of ``folder`` that differ from the code (or are missing, or extra)."""
    texts = generated()
    stale = [
        name
        for name, text in texts.items()
        if not (folder / name).exists() or (folder / name).read_text() != text
    ]
    extra = [path.name for path in sorted(folder.glob("*.json")) if path.name not in texts]
    return stale + extra
