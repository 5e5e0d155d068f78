"""The producer's routes."""

from __future__ import annotations

from aiohttp import web

from producer import handlers, keys
from producer.context_handlers import experiment_handlers
from producer.instrumentation import metrics_handler
from producer.openapi import openapi_document, openapi_handler


def setup_routes(app: web.Application) -> None:
    """Register every route of the producer's API on ``app`` (its metrics are set already)."""
    metrics = app[keys.METRICS]
    app.router.add_post("/jobs", handlers.submit_job)
    app.router.add_post("/jobs/lookup", handlers.lookup_jobs)
    app.router.add_get("/jobs/{job_id}", handlers.get_job)
    app.router.add_get("/queue", handlers.queue_status)
    app.router.add_get("/healthz", handlers.healthz)
    app.router.add_get("/readyz", handlers.readyz)
    if app[keys.CONFIG].metrics_enabled:
        app.router.add_get("/metrics", metrics_handler(metrics))
    for method, handler in experiment_handlers(metrics.experiment).items():
        app.router.add_route(method, "/experiment", handler)
    document = openapi_document(metrics_route=app[keys.CONFIG].metrics_enabled)
    app.router.add_get("/openapi.json", openapi_handler(document))
    metrics.initialize_job_route("/jobs")
