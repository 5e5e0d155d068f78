"""A user's Celery task as the target of a run: checked before anything starts.

The app is imported here as ``celery -A`` would, the task looked up, its queue read off the
app's own routing, every payload line read; a problem with any of them stops the run before a
stack starts, naming the flag or line. What burstlab will override in its workers of the app is
listed in the summary and the report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from burstlab.experiments.targets.stacks import Target
from burstlab.jobs.payloads import Payload, PayloadError, read_payloads
from burstlab.jobs.target import (
    Deployment,
    EventsOff,
    TargetError,
    TaskTarget,
    check_deployment,
    find_task,
    load_app,
    overrides,
    task_queue,
)
from burstlab.scenario.fields import ScenarioError
from burstlab.scenario.target import TargetSpec

if TYPE_CHECKING:
    from celery import Celery

STACK_BROKER = "the stack's Redis"


KOMBU_REDIS_DEFAULTS = {
    "visibility_timeout": 3600.0,
    "unacked_restore_interval": 10.0,
    "unacked_restore_throttle": 10.0,
}
"""kombu's Redis transport defaults for the options that decide when a dead worker's
unacknowledged jobs come back (the sweep scans every interval x throttle seconds)."""


@dataclass(frozen=True)
class ResolvedTarget:
    """A target ready to hand to the services, with what the report says about it."""

    target: TaskTarget
    payloads: int
    overrides: list[dict[str, Any]]
    serializer: str
    external: Deployment | None = None
    """``--external``: the running workers found on the app's own broker, which take the jobs."""
    broker_url: str = ""
    """``--external``: the app's own broker, where the jobs are sent."""
    visibility_timeout_s: float = KOMBU_REDIS_DEFAULTS["visibility_timeout"]
    """The app's Redis visibility timeout: how old a dead worker's unacknowledged job must be
    before it is restored."""
    restore_period_s: float = (
        KOMBU_REDIS_DEFAULTS["unacked_restore_interval"]
        * KOMBU_REDIS_DEFAULTS["unacked_restore_throttle"]
    )
    """How often the app's workers scan for such jobs (interval x throttle)."""

    def to_dict(self) -> dict[str, Any]:
        """For summary.json: what was measured, and which of the app's settings burstlab set."""
        fields = dataclasses.asdict(self.target)
        fields.pop("path")
        external = None
        if self.external is not None:
            external = {
                "broker": _without_password(self.broker_url),
                "workers": self.external.workers,
                "processes": self.external.processes,
            }
        return {
            **fields,
            "payload_lines": self.payloads,
            "serializer": self.serializer,
            "overrides": self.overrides,
            "external": external,
        }


def resolve_target(spec: TargetSpec, *, external: bool = False) -> ResolvedTarget:
    """Import the app, find the task and its queue, read the payloads; ScenarioError if not.

    ``external``: also find the app's running workers on its own broker (events must be on);
    burstlab then overrides nothing, it only sends to their queue and listens.
    """
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
    deployment = None
    if external:
        try:
            deployment = check_deployment(app, spec.app)
        except EventsOff as exc:
            raise ScenarioError(str(exc)) from exc
        if len(deployment.events_configured) < len(deployment.workers):
            first = read_payloads(payloads_path)[0]
            if not task_events_seen(app, spec.task, first, queue):
                raise ScenarioError(events_off_message(spec.app))
        broker = str(app.conf.broker_url or "")
        if broker.split(":", 1)[0] not in ("redis", "rediss", "amqp", "amqps", "pyamqp"):
            raise ScenarioError(
                f"--external: the app's broker {_without_password(broker)!r} is neither Redis "
                "nor RabbitMQ, which burstlab's producer can send to"
            )
    changed = [] if external else overrides(app, STACK_BROKER, STACK_BROKER, 1)
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
    options = {**KOMBU_REDIS_DEFAULTS, **(app.conf.broker_transport_options or {})}
    return ResolvedTarget(
        target,
        count,
        listed,
        serializer,
        deployment,
        str(app.conf.broker_url) if deployment is not None else "",
        visibility_timeout_s=float(options["visibility_timeout"]),
        restore_period_s=float(options["unacked_restore_interval"])
        * max(float(options["unacked_restore_throttle"]), 1.0),
    )


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


@contextlib.contextmanager
def external_stack(task: ResolvedTarget) -> Iterator[Target]:
    """The stack of a run on a running deployment: a producer sending to its broker and queue,
    the baseline calling the task's function, and ``burstlab task-events`` recording what the
    deployment's own workers do; no worker of burstlab's.

    On a Redis broker the job records sit beside the queue in that Redis (the producer records
    and queues a job in one script), under ``burstlab:job:*``, expiring after a day; on RabbitMQ
    they go to a private Redis.
    """
    from burstlab.stack.local import LocalStack, StackConfig

    assert task.external is not None
    processes = task.external.processes
    on_amqp = task.broker_url.split(":", 1)[0] in ("amqp", "amqps", "pyamqp")
    config = StackConfig(
        workers=processes,
        baseline_workers=processes,
        broker="rabbitmq" if on_amqp else "redis",
        broker_url=task.broker_url if on_amqp else None,
        redis_url=None if on_amqp else task.broker_url,
        target=task.target,
        external=True,
    )
    with LocalStack(config) as running:
        yield Target(running.producer_url, replicas=processes)


def _shown(setting: str, value: object) -> object:
    if setting == "worker_concurrency":
        return "each run's worker count"
    return value


def events_off_message(app_name: str) -> str:
    """Why a deployment cannot be measured without task events, and how to turn them on."""
    return (
        "task events are off: burstlab measures a running deployment from them. Start the "
        f"workers with -E (celery -A {app_name} worker -E), or set worker_send_task_events = True "
        "in the app's configuration"
    )


def task_events_seen(
    app: Celery, task: str, payload: Payload, queue: str, timeout_s: float = 15.0
) -> bool:
    """Whether the workers send task events: one job of ``payload`` is sent to their queue (as
    the measurement's probes are) and its events are awaited. Changes no setting of theirs."""
    import socket
    import threading
    import uuid

    job_id = str(uuid.uuid4())
    seen = threading.Event()
    ready = threading.Event()

    def on_event(event: dict[str, Any]) -> None:
        if event.get("uuid") == job_id and event.get("type") in ("task-started", "task-received"):
            seen.set()

    with app.connection() as connection:

        class Receiver(app.events.Receiver):  # type: ignore[misc,name-defined]
            def on_consume_ready(self, *args: Any, **kwargs: Any) -> None:
                super().on_consume_ready(*args, **kwargs)
                ready.set()

            def on_iteration(self) -> None:
                if seen.is_set():
                    self.should_stop = True

        receiver = Receiver(connection, handlers={"*": on_event}, app=app)

        def listen() -> None:
            with contextlib.suppress(socket.timeout, TimeoutError, OSError):
                receiver.capture(limit=None, timeout=timeout_s, wakeup=False)

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        ready.wait(timeout_s)
        app.send_task(task, args=payload.args, kwargs=payload.kwargs, queue=queue, task_id=job_id)
        found = seen.wait(timeout_s)
        receiver.should_stop = True
        thread.join(2)
    return found
