"""The producer's routes, each answering its errors as JSON and (with metrics) counted."""

from __future__ import annotations

from aiohttp import hdrs, web

from producer import handlers, keys
from producer.context_handlers import experiment_handlers
from producer.errors import ApiError, Handler, json_errors
from producer.instrumentation import UNMATCHED_ROUTE, measured, metrics_handler
from producer.openapi import openapi_document, openapi_handler

ANY_PATH = "/{path:.*}"
"""The last route: whatever no other route takes (a JSON 404 or 405, counted as unmatched)."""


async def not_routed(request: web.Request) -> web.Response:
    """A request no route took: 405 with ``Allow`` if its path has routes for other methods,
    else 404."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not request.match_info.route.resource:
            _, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        allow = ",".join(sorted(allowed))
        raise ApiError(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.path}; allowed: {allow}",
            headers={"Allow": allow},
        )
    raise ApiError(404, "not_found", f"no route for {request.method} {request.path}")


def setup_routes(app: web.Application) -> None:
    """Register every route of the producer's API on ``app`` (its metrics are set already).

    Errors and metrics wrap each handler, not an aiohttp middleware (see
    :func:`~producer.instrumentation.measured`)."""
    metrics = app[keys.METRICS]
    metrics_enabled = app[keys.CONFIG].metrics_enabled

    def add(method: str, path: str, handler: Handler, route: str | None = None) -> None:
        if metrics_enabled:
            handler = measured(handler, route or path, metrics)
        else:
            handler = json_errors(handler)
        if method == hdrs.METH_GET:
            app.router.add_get(path, handler)  # and HEAD
        else:
            app.router.add_route(method, path, handler)

    add(hdrs.METH_POST, "/jobs", handlers.submit_job)
    add(hdrs.METH_POST, "/jobs/lookup", handlers.lookup_jobs)
    add(hdrs.METH_GET, "/jobs/{job_id}", handlers.get_job)
    add(hdrs.METH_GET, "/queue", handlers.queue_status)
    add(hdrs.METH_GET, "/healthz", handlers.healthz)
    add(hdrs.METH_GET, "/readyz", handlers.readyz)
    if metrics_enabled:
        add(hdrs.METH_GET, "/metrics", metrics_handler(metrics))
    for method, handler in experiment_handlers(metrics.experiment).items():
        add(method, "/experiment", handler)
    document = openapi_document(metrics_route=metrics_enabled)
    add(hdrs.METH_GET, "/openapi.json", openapi_handler(document))
    add(hdrs.METH_ANY, ANY_PATH, not_routed, route=UNMATCHED_ROUTE)
    metrics.initialize_job_route("/jobs")
