"""A task target: the user's own Celery task, which every service of a stack runs in place of
burstlab's synthetic job.

The one owner of how a target is named and handed to the services (environment variables), how
the user's app is imported (as ``celery -A`` does: the current folder and ``PYTHONPATH`` on the
path) and which of its settings burstlab overrides to measure, with the reason for each. The
user's module is imported, never written to or wrapped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery, Task

ENV_APP = "TARGET_APP"
ENV_TASK = "TARGET_TASK"
ENV_QUEUE = "TARGET_QUEUE"
ENV_PAYLOADS = "TARGET_PAYLOADS"
ENV_PATH = "TARGET_PATH"
ENV_SYNC_URL = "TARGET_SYNC_URL"


class TargetError(ValueError):
    """The task target cannot be used; the message names the setting and what to change."""


@dataclass(frozen=True)
class TaskTarget:
    """The user's Celery app (``MODULE:ATTR``), the task's registered name, its payloads file,
    the queue its messages go to, the folder the app is imported from, and (optionally) the
    user's own blocking endpoint for the sync side."""

    app: str
    task: str
    payloads: str
    queue: str = ""
    """Resolved from the app's routing (:func:`task_queue`) when empty."""
    path: str = ""
    """Put first on ``sys.path`` when the app is imported (the folder burstlab was run in)."""
    sync_url: str | None = None

    def to_env(self) -> dict[str, str]:
        """The environment variables that hand this target to the services."""
        env = {
            ENV_APP: self.app,
            ENV_TASK: self.task,
            ENV_QUEUE: self.queue,
            ENV_PAYLOADS: self.payloads,
            ENV_PATH: self.path,
        }
        if self.sync_url:
            env[ENV_SYNC_URL] = self.sync_url
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TaskTarget | None:
        """The target the services were started with, or ``None`` (burstlab's own job)."""
        env = os.environ if env is None else env
        if not env.get(ENV_TASK):
            return None
        missing = [name for name in (ENV_APP, ENV_PAYLOADS) if not env.get(name)]
        if missing:
            raise TargetError(f"{ENV_TASK} is set but {', '.join(missing)} is not")
        return cls(
            app=env[ENV_APP],
            task=env[ENV_TASK],
            payloads=env[ENV_PAYLOADS],
            queue=env.get(ENV_QUEUE, ""),
            path=env.get(ENV_PATH, ""),
            sync_url=env.get(ENV_SYNC_URL) or None,
        )


def load_app(spec: str, path: str = "") -> Celery:
    """Import the Celery app ``MODULE:ATTR`` (or ``MODULE``) as ``celery -A`` does."""
    from celery import Celery
    from celery.app.utils import find_app

    folder = path or os.getcwd()
    if folder not in sys.path:
        sys.path.insert(0, folder)
    # Nothing is written next to the user's code, not even a __pycache__ folder.
    sys.dont_write_bytecode = True
    try:
        app = find_app(spec)
    except (ImportError, AttributeError) as exc:
        raise TargetError(f"--app {spec}: cannot import it ({exc})") from exc
    if not isinstance(app, Celery):
        raise TargetError(f"--app {spec}: is a {type(app).__name__}, not a Celery app")
    return app


def find_task(app: Celery, name: str) -> Task:
    """The task registered as ``name`` in ``app``; the error lists the app's own tasks."""
    app.loader.import_default_modules()
    app.finalize(auto=True)
    if name not in app.tasks:
        own = sorted(t for t in app.tasks if not t.startswith("celery."))
        raise TargetError(
            f"--task {name}: no task of that name in the app; it has {', '.join(own) or 'none'}"
        )
    return app.tasks[name]


def task_queue(app: Celery, name: str) -> str:
    """The queue a message of task ``name`` goes to under the app's own routing."""
    route = app.amqp.router.route({}, name)
    queue = route.get("queue")
    return str(getattr(queue, "name", queue) or app.conf.task_default_queue)


@dataclass(frozen=True)
class Override:
    """One setting burstlab changes in the user's app, the value it sets, and why."""

    setting: str
    value: Any
    reason: str


def overrides(app: Celery, broker_url: str, redis_url: str, concurrency: int) -> list[Override]:
    """The settings burstlab's own workers of the user's app run with, and why.

    Everything else (serializer, routing, time limits, acks, retries, prefetch) stays as the
    user's configuration has it.
    """
    conf = app.conf
    changed = [
        Override(
            "broker_url", broker_url, "the jobs go to the broker of the stack burstlab started"
        ),
        Override(
            "worker_concurrency", concurrency, "the worker count is what the experiment varies"
        ),
    ]
    if conf.result_backend and not str(conf.result_backend).startswith("disabled"):
        changed.append(
            Override(
                "result_backend",
                redis_url,
                "results are stored in the stack's Redis (the configured store may not be "
                "running where burstlab runs)",
            )
        )
    accepted = list(conf.accept_content or [])
    if "json" not in accepted and "application/json" not in accepted:
        changed.append(
            Override(
                "accept_content",
                [*accepted, "json"],
                "burstlab's producer sends the payloads as JSON messages",
            )
        )
    if conf.task_always_eager:
        changed.append(
            Override("task_always_eager", False, "an eager app runs tasks without a queue")
        )
    return changed


def apply_overrides(app: Celery, changed: list[Override]) -> None:
    """Set each override on ``app`` (in memory: the user's files are not touched)."""
    app.conf.update({item.setting: item.value for item in changed})


class EventsOff(RuntimeError):
    """The deployment's workers cannot be measured from events; the message says why and how."""


@dataclass(frozen=True)
class Deployment:
    """What burstlab saw of the running workers before it sent anything."""

    workers: list[str]
    """Their node names."""
    processes: int
    """Pool processes over all of them: the ``c`` of the prediction."""
    events_configured: list[str] = field(default_factory=list)
    """The workers whose configuration has ``worker_send_task_events`` on. Events turned on by
    ``-E`` or ``celery control enable_events`` do not show there: the others are checked live."""


def check_deployment(app: Celery, app_name: str, timeout_s: float = 3.0) -> Deployment:
    """Ask the running workers for their settings and pools; :class:`EventsOff` if unusable."""
    inspect = app.control.inspect(timeout=timeout_s)
    confs = inspect.conf() or {}
    if not confs:
        raise EventsOff(
            f"no worker of {app_name} answered on {app.conf.broker_url!r}: start them first "
            f"(celery -A {app_name} worker -E)"
        )
    stats = inspect.stats() or {}
    processes = sum(int(s.get("pool", {}).get("max-concurrency") or 0) for s in stats.values())
    configured = sorted(name for name, conf in confs.items() if conf.get("worker_send_task_events"))
    return Deployment(sorted(confs), processes or len(confs), configured)
