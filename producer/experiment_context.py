"""Experiment context: which scenario, mode, worker count and phase a load run is in.

The experiment runner tells the producer (``PUT /experiment``) at each phase change; the
producer exposes it as metrics, so Prometheus and Grafana show when each burst hit:

- ``burstlab_experiment_info{scenario, mode, workers, phase} 1`` for the current context
  (one series at a time: the previous one is removed);
- ``burstlab_experiment_burst_active`` 1 while ``phase`` is ``burst``, else 0;
- ``burstlab_experiment_phase_started_timestamp_seconds`` when the current phase began.

The client functions at the end are what a runner calls.
"""

from __future__ import annotations

import re
import time
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from producer.bodies import read_json
from producer.errors import ApiError, json_response

BURST_PHASE = "burst"
CONTEXT_MODES = ("sync", "async", "mixed")
MAX_WORKERS = 10_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FIELDS = ("scenario", "mode", "workers", "phase")


class ContextError(ValueError):
    """A context field is missing or not acceptable; ``field`` names it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ExperimentContext:
    """One phase of one run: labels short and bounded (a name, not a free text)."""

    scenario: str
    mode: str
    workers: int
    phase: str

    def __post_init__(self) -> None:
        for field in ("scenario", "phase"):
            value = getattr(self, field)
            if not isinstance(value, str) or not _NAME.match(value):
                raise ContextError(
                    field, f"field {field!r} must be 1-64 of A-Z a-z 0-9 _ . - , got {value!r}"
                )
        if self.mode not in CONTEXT_MODES:
            raise ContextError("mode", f"field 'mode' must be one of {', '.join(CONTEXT_MODES)}")
        if (
            isinstance(self.workers, bool)
            or not isinstance(self.workers, int)
            or not 0 <= self.workers <= MAX_WORKERS
        ):
            raise ContextError("workers", f"field 'workers' must be an integer 0..{MAX_WORKERS}")

    @classmethod
    def from_body(cls, body: object) -> ExperimentContext:
        """Validate a decoded JSON object with exactly the four fields."""
        if not isinstance(body, dict):
            raise ContextError("body", "the body must be a JSON object")
        unknown = sorted(set(body) - set(_FIELDS))
        if unknown:
            raise ContextError(unknown[0], f"unknown field {unknown[0]!r}")
        missing = [f for f in _FIELDS if f not in body]
        if missing:
            raise ContextError(missing[0], f"field {missing[0]!r} is required")
        return cls(**body)


class ExperimentMetrics:
    """The context as metrics; at most one ``burstlab_experiment_info`` series at a time."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.info = Gauge(
            "burstlab_experiment_info",
            "The experiment phase now running (1), labelled with its scenario, mode, workers.",
            ["scenario", "mode", "workers", "phase"],
            registry=registry,
        )
        self.burst_active = Gauge(
            "burstlab_experiment_burst_active",
            "1 while the experiment runner is in a burst phase, else 0.",
            registry=registry,
        )
        self.phase_started = Gauge(
            "burstlab_experiment_phase_started_timestamp_seconds",
            "When the current experiment phase began (epoch seconds; 0 when none).",
            registry=registry,
        )
        self.current: ExperimentContext | None = None

    def set(self, context: ExperimentContext, now: float) -> None:
        """Make ``context`` the current one, replacing any previous series."""
        self.info.clear()
        self.info.labels(context.scenario, context.mode, str(context.workers), context.phase).set(1)
        self.burst_active.set(1 if context.phase == BURST_PHASE else 0)
        self.phase_started.set(now)
        self.current = context

    def clear(self) -> None:
        """No experiment is running."""
        self.info.clear()
        self.burst_active.set(0)
        self.phase_started.set(0)
        self.current = None


def _view(metrics: ExperimentMetrics) -> dict[str, Any]:
    current = metrics.current
    return {"context": asdict(current) if current else None}


def experiment_handlers(metrics: ExperimentMetrics) -> dict[str, Any]:
    """The ``/experiment`` handlers (``PUT``, ``GET``, ``DELETE``) bound to ``metrics``."""

    async def put(request: web.Request) -> web.Response:
        body = await read_json(request)
        try:
            context = ExperimentContext.from_body(body)
        except ContextError as exc:
            code = "unknown_field" if exc.detail.startswith("unknown") else "invalid_value"
            raise ApiError(400, code, exc.detail, extra={"field": exc.field}) from exc
        metrics.set(context, time.time())
        return json_response(_view(metrics))

    async def get(_request: web.Request) -> web.Response:
        return json_response(_view(metrics))

    async def delete(_request: web.Request) -> web.Response:
        metrics.clear()
        return json_response(_view(metrics))

    return {"PUT": put, "GET": get, "DELETE": delete}


# --- what an experiment runner calls ---------------------------------------------------------


def set_experiment_context(
    producer_url: str,
    *,
    scenario: str,
    mode: str,
    workers: int,
    phase: str,
    timeout_s: float = 2.0,
) -> None:
    """Tell the producer at ``producer_url`` which experiment phase starts now (blocking).

    ``phase`` is a short name (``warmup``, ``burst``, ``drain``, ...); ``burst`` also sets
    ``burstlab_experiment_burst_active`` to 1. Raises ``ValueError`` for a bad field and
    ``OSError`` if the producer cannot be reached.
    """
    context = ExperimentContext(scenario=scenario, mode=mode, workers=workers, phase=phase)
    _send(producer_url, "PUT", orjson.dumps(asdict(context)), timeout_s)


def clear_experiment_context(producer_url: str, *, timeout_s: float = 2.0) -> None:
    """Tell the producer that no experiment runs any more (blocking)."""
    _send(producer_url, "DELETE", None, timeout_s)


async def aset_experiment_context(
    session: aiohttp.ClientSession,
    producer_url: str,
    *,
    scenario: str,
    mode: str,
    workers: int,
    phase: str,
    timeout_s: float = 2.0,
) -> None:
    """:func:`set_experiment_context` for asyncio code, on an existing aiohttp session."""
    context = ExperimentContext(scenario=scenario, mode=mode, workers=workers, phase=phase)
    async with session.put(
        f"{producer_url.rstrip('/')}/experiment",
        json=asdict(context),
        timeout=aiohttp.ClientTimeout(total=timeout_s),
    ) as response:
        response.raise_for_status()


async def aclear_experiment_context(
    session: aiohttp.ClientSession, producer_url: str, *, timeout_s: float = 2.0
) -> None:
    """:func:`clear_experiment_context` for asyncio code."""
    async with session.delete(
        f"{producer_url.rstrip('/')}/experiment", timeout=aiohttp.ClientTimeout(total=timeout_s)
    ) as response:
        response.raise_for_status()


def _send(producer_url: str, method: str, body: bytes | None, timeout_s: float) -> None:
    request = urllib.request.Request(
        f"{producer_url.rstrip('/')}/experiment",
        data=body,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        response.read()
