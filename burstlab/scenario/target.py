"""A scenario's ``[target]`` table and ``--app/--task/--payloads``: which user task to run.

The scenario language only names the target; importing the app and checking the payloads
happen before the run (:mod:`burstlab.experiments.targets.task`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from burstlab.scenario.fields import ScenarioError, Table

TARGET_FIELDS = ("app", "task", "payloads", "sync_url")


@dataclass(frozen=True)
class TargetSpec:
    """The user's Celery app (``MODULE:ATTR``), its task's name, the payloads file (JSON lines),
    and optionally a blocking HTTP endpoint of theirs for the sync side."""

    app: str
    task: str
    payloads: str
    sync_url: str | None = None


def parse_target(data: object) -> TargetSpec:
    """The ``[target]`` table; :class:`ScenarioError` names the field."""
    table = Table(data, "target", TARGET_FIELDS)
    sync_url = table.string("sync_url") if table.has("sync_url") else None
    if sync_url is not None and not sync_url.startswith(("http://", "https://")):
        raise table.fail("sync_url", "must be an http:// or https:// URL")
    return TargetSpec(
        app=table.string("app"),
        task=table.string("task"),
        payloads=table.string("payloads"),
        sync_url=sync_url,
    )


def merge_target(
    table: TargetSpec | None,
    app: str | None,
    task: str | None,
    payloads: str | None,
    sync_url: str | None = None,
) -> TargetSpec | None:
    """The scenario's ``[target]`` with the command line's flags over it; None when neither
    names one. A partial target is refused with the missing flag named."""
    given: dict[str, Any] = {"app": app, "task": task, "payloads": payloads, "sync_url": sync_url}
    if table is None and not any(given.values()):
        return None
    base = dataclasses.asdict(table) if table else {}
    merged = {name: given[name] or base.get(name) for name in given}
    missing = [f"--{name}" for name in ("app", "task", "payloads") if not merged[name]]
    if missing:
        raise ScenarioError(
            f"target: {', '.join(missing)} missing; a task target needs --app MODULE:ATTR, "
            "--task NAME and --payloads FILE.jsonl (or a [target] table)"
        )
    return TargetSpec(
        str(merged["app"]), str(merged["task"]), str(merged["payloads"]), merged["sync_url"]
    )
