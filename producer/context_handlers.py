"""The ``/experiment`` handlers: set, read and clear the experiment context over HTTP."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from burstlab.jobs.experiment_context import ContextError, ExperimentContext, ExperimentMetrics
from producer.bodies import read_json
from producer.errors import ApiError, Handler, json_response


def _view(metrics: ExperimentMetrics) -> dict[str, Any]:
    current = metrics.current
    return {"context": current.to_body() if current else None}


def experiment_handlers(metrics: ExperimentMetrics) -> dict[str, Handler]:
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
