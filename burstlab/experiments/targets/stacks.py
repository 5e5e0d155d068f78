"""The stacks a run drives: a fresh local stack per worker count, or one already running."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from burstlab.jobs.target import TaskTarget


@dataclass(frozen=True)
class Target:
    """A running stack to drive: the producer's URL and, if known, the worker replicas running."""

    url: str
    replicas: int | None = None


StackFactory = Callable[[int], contextlib.AbstractContextManager[Target]]
"""Given a worker count, a context manager that yields a running stack with that many workers."""


@contextlib.contextmanager
def local_stack(
    workers: int, broker: str = "redis", task: TaskTarget | None = None
) -> Iterator[Target]:
    """A fresh local stack with ``workers`` Celery processes and as many gunicorn workers,
    its async queue on ``broker``; with ``task``, workers of the user's app running it."""
    from burstlab.stack.local import LocalStack, StackConfig

    config = StackConfig(workers=workers, baseline_workers=workers, broker=broker, target=task)
    with LocalStack(config) as running:
        yield Target(running.producer_url)


@contextlib.contextmanager
def existing_target(url: str) -> Iterator[Target]:
    """A stack that is already running (``--target``): nothing to start or stop."""
    yield Target(url)
