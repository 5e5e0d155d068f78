"""The producer's routes."""

from __future__ import annotations

from aiohttp import web

from producer import handlers


def setup_routes(app: web.Application) -> None:
    """Register every route of the producer's API on ``app``."""
    app.router.add_post("/jobs", handlers.submit_job)
    app.router.add_post("/jobs/lookup", handlers.lookup_jobs)
    app.router.add_get("/jobs/{job_id}", handlers.get_job)
    app.router.add_get("/queue", handlers.queue_status)
    app.router.add_get("/healthz", handlers.healthz)
    app.router.add_get("/readyz", handlers.readyz)
