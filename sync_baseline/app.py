"""The baseline's WSGI app: ``POST /work`` runs the job inline, ``GET /healthz``."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import orjson

from burstlab.jobs.spec import TASK_KIND, ValidationError, parse_spec
from burstlab.jobs.work import execute
from sync_baseline.config import BaselineConfig
from sync_baseline.metrics import BaselineMetrics
from sync_baseline.task_call import TaskCaller

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_STATUS_TEXT = {
    200: "200 OK",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    411: "411 Length Required",
    413: "413 Payload Too Large",
}


def _reply(start: StartResponse, status: int, body: dict[str, Any], extra=()) -> list[bytes]:
    data = orjson.dumps(body)
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *extra]
    start(_STATUS_TEXT[status], headers)
    return [data]


@cache
def _host() -> str:
    return socket.gethostname()


def worker_name() -> str:
    """This gunicorn worker process, as ``pid@host`` (one job at a time: a server of its own)."""
    return f"{os.getpid()}@{_host()}"


def _error(start: StartResponse, status: int, code: str, detail: str, extra=()) -> list[bytes]:
    return _reply(start, status, {"error": code, "detail": detail}, extra)


def _work(
    environ: dict[str, Any],
    start: StartResponse,
    config: BaselineConfig,
    metrics: BaselineMetrics,
    caller: TaskCaller | None,
) -> list[bytes]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(start, 400, "invalid_header", "Content-Length must be an integer")
    if length > config.max_body_bytes:
        return _error(
            start, 413, "body_too_large", f"the body must be at most {config.max_body_bytes} bytes"
        )
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _error(start, 400, "invalid_json", f"the body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return _error(start, 400, "invalid_body", "the body must be a JSON object")
    payload = body.pop("payload", "")
    call = body.pop("call", None)
    if not isinstance(payload, str):
        return _error(start, 400, "invalid_type", "field 'payload' must be a string")
    try:
        spec = parse_spec(body)
    except ValidationError as exc:
        return _error(start, 400, exc.code, exc.detail)
    if spec.kind == TASK_KIND:
        return _call_task(start, caller, call, metrics)
    try:
        outcome = execute(spec, payload)
    except Exception:
        metrics.finished.labels(spec.kind, "failed").inc()
        raise
    metrics.service.labels(spec.kind).observe(outcome.finished_at - outcome.started_at)
    metrics.finished.labels(spec.kind, "succeeded").inc()
    return _reply(
        start,
        200,
        {
            "result": outcome.result,
            "timings": {"started_at": outcome.started_at, "finished_at": outcome.finished_at},
            "worker": worker_name(),
        },
    )


def _call_task(
    start: StartResponse, caller: TaskCaller | None, call: object, metrics: BaselineMetrics
) -> list[bytes]:
    if caller is None:
        return _error(
            start, 400, "no_task_target", "this baseline was started without a task target"
        )
    status, body = caller.call(call)
    if status == 200:
        body["worker"] = worker_name()
        timings = body["timings"]
        metrics.service.labels(TASK_KIND).observe(timings["finished_at"] - timings["started_at"])
        metrics.finished.labels(TASK_KIND, body["status"]).inc()
    return _reply(start, status, body)


def create_app(
    config: BaselineConfig | None = None, metrics: BaselineMetrics | None = None
) -> WSGIApp:
    """Return the baseline WSGI app (gunicorn: ``sync_baseline.app:create_app()``).

    ``metrics`` defaults to a set registered nowhere: under gunicorn the values go to the
    multiprocess folder, which the master serves.
    """
    cfg = config or BaselineConfig.from_env()
    meters = metrics or BaselineMetrics(None)
    # The user's app is imported once here (gunicorn's master, before it forks its workers).
    caller = TaskCaller(cfg.target) if cfg.target is not None else None

    def app(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        routes = {"/work": "POST", "/healthz": "GET"}
        if path not in routes:
            return _error(start, 404, "not_found", f"no route {path}")
        if method != routes[path] and not (method == "HEAD" and routes[path] == "GET"):
            return _error(
                start,
                405,
                "method_not_allowed",
                f"{method} is not allowed on {path}; use {routes[path]}",
                [("Allow", routes[path])],
            )
        if path == "/healthz":
            return _reply(start, 200, {"status": "ok"})
        meters.in_flight.inc()
        try:
            return _work(environ, start, cfg, meters, caller)
        finally:
            meters.in_flight.dec()

    return app
