"""A user's Celery task as the target of a run: checked before anything starts.

The app is imported here as ``celery -A`` would, the task looked up, its queue read off the
app's own routing, every payload line read; a problem with any of them stops the run before a
stack starts, naming the flag or line. What burstlab will override in its workers of the app is
listed in the summary and the report.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burstlab.jobs.payloads import PayloadError, read_payloads
from burstlab.jobs.target import TargetError, TaskTarget, find_task, load_app, overrides, task_queue
from burstlab.scenario.fields import ScenarioError
from burstlab.scenario.target import TargetSpec

STACK_BROKER = "the stack's Redis"


@dataclass(frozen=True)
class ResolvedTarget:
    """A target ready to hand to the services, with what the report says about it."""

    target: TaskTarget
    payloads: int
    overrides: list[dict[str, Any]]
    serializer: str

    def to_dict(self) -> dict[str, Any]:
        """For summary.json: what was measured, and which of the app's settings burstlab set."""
        fields = dataclasses.asdict(self.target)
        fields.pop("path")
        return {
            **fields,
            "payload_lines": self.payloads,
            "serializer": self.serializer,
            "overrides": self.overrides,
        }


def resolve_target(spec: TargetSpec, workers: int = 1) -> ResolvedTarget:
    """Import the app, find the task and its queue, read the payloads; ScenarioError if not."""
    folder = os.getcwd()
    payloads_path = Path(spec.payloads).resolve()
    try:
        count = len(read_payloads(payloads_path))
        app = load_app(spec.app, folder)
        find_task(app, spec.task)
        queue = task_queue(app, spec.task)
    except (PayloadError, TargetError) as exc:
        raise ScenarioError(str(exc)) from exc
    serializer = str(app.conf.task_serializer)
    if serializer != "json":
        raise ScenarioError(
            f"--app {spec.app}: task_serializer is {serializer!r}; burstlab's producer sends JSON "
            "messages, so it measures apps that serialize tasks as JSON"
        )
    changed = overrides(app, STACK_BROKER, STACK_BROKER, workers)
    target = TaskTarget(
        app=spec.app,
        task=spec.task,
        payloads=str(payloads_path),
        queue=queue,
        path=folder,
        sync_url=spec.sync_url,
    )
    listed = [
        {"setting": item.setting, "value": _shown(item.setting, item.value), "reason": item.reason}
        for item in changed
    ]
    return ResolvedTarget(target, count, listed, serializer)


def _shown(setting: str, value: object) -> object:
    if setting == "worker_concurrency":
        return "each run's worker count"
    return value
