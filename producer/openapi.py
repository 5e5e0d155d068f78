"""The producer's API as an OpenAPI 3.1 document, served at ``GET /openapi.json``.

Kept beside the routes: a test checks that every route is documented and every documented
operation exists, and property-based tests generate requests from this document.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from burstlab.jobs.names import MAX_LOOKUP_IDS
from producer.api_schemas import ERROR_REF, SCHEMAS
from producer.errors import json_response


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    meaning = {
        400: "the request is malformed or a field is not acceptable",
        404: "no such job",
        408: "the request body did not arrive in time",
        413: "the body is over the size limit",
        415: "the body is not JSON",
        429: "the async backlog is full (see Retry-After)",
        503: "a dependency is down, did not answer in time, or the producer sheds load",
    }
    return {str(s): _json(ERROR_REF, meaning[s]) for s in statuses}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_BODYERROR_REFS = (400, 408, 413, 415)


def _paths() -> dict[str, Any]:
    ref = "#/components/schemas/"
    return {
        "/jobs": {
            "post": {
                "operationId": "submitJob",
                "summary": "Submit a job: sync runs it and answers 200, async queues it (202)",
                "requestBody": _body({"$ref": ref + "JobSubmission"}),
                "responses": {
                    "200": _json({"$ref": ref + "SyncResult"}, "the sync job ran"),
                    "202": _json({"$ref": ref + "Queued"}, "the async job is queued"),
                    **_errors(*_BODYERROR_REFS, 429, 503),
                },
            }
        },
        "/jobs/lookup": {
            "post": {
                "operationId": "lookupJobs",
                "summary": "Many jobs' status in one request",
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["job_ids"],
                        "additionalProperties": False,
                        "properties": {
                            "job_ids": {
                                "type": "array",
                                "items": {"type": "string"},
                                "maxItems": MAX_LOOKUP_IDS,
                            }
                        },
                    }
                ),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["jobs", "missing"],
                            "properties": {
                                "jobs": {"type": "array", "items": {"$ref": ref + "Job"}},
                                "missing": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                        "the jobs found, and the ids not found",
                    ),
                    **_errors(*_BODYERROR_REFS, 503),
                },
            }
        },
        "/jobs/{job_id}": {
            "get": {
                "operationId": "getJob",
                "summary": "A job's status; with ?wait=S, long-polls until it is final",
                "parameters": [
                    {
                        "name": "job_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "wait",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "number", "minimum": 0, "maximum": 60},
                    },
                ],
                "responses": {
                    "200": _json({"$ref": ref + "Job"}, "the job"),
                    **_errors(400, 404, 503),
                },
            }
        },
        "/queue": {
            "get": {
                "operationId": "queueStatus",
                "summary": "Both backlogs: async queued + reserved, sync waiting + in flight",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["queued", "reserved", "backlog", "finished_total", "sync"],
                            "properties": {
                                **{
                                    name: {"type": "integer", "minimum": 0}
                                    for name in ("queued", "reserved", "backlog", "finished_total")
                                },
                                "sync": {"$ref": ref + "SyncBacklog"},
                            },
                        },
                        "the backlog of each mode",
                    ),
                    **_errors(503),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process answers",
                "responses": {"200": _json({"type": "object"}, "alive")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: the broker and the baseline are reachable",
                "responses": {
                    "200": _json({"type": "object", "required": ["status", "checks"]}, "ready"),
                    "503": _json(
                        {
                            "allOf": [ERROR_REF],
                            "required": ["checks"],
                            "properties": {"checks": {"type": "object"}},
                        },
                        "a dependency is down; checks names which",
                    ),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "the Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/experiment": {
            "get": {
                "operationId": "getExperiment",
                "summary": "The experiment phase the runner declared",
                "responses": {"200": _json({"$ref": ref + "ExperimentView"}, "the context")},
            },
            "put": {
                "operationId": "putExperiment",
                "summary": "Declare the experiment phase now starting",
                "requestBody": _body({"$ref": ref + "Experiment"}),
                "responses": {
                    "200": _json({"$ref": ref + "ExperimentView"}, "the new context"),
                    **_errors(*_BODYERROR_REFS),
                },
            },
            "delete": {
                "operationId": "clearExperiment",
                "summary": "No experiment is running",
                "responses": {"200": _json({"$ref": ref + "ExperimentView"}, "cleared")},
            },
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
            }
        },
    }


def openapi_document(*, metrics_route: bool = True) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the producer's API."""
    paths = _paths()
    if not metrics_route:
        del paths["/metrics"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "burstlab producer",
            "version": "1",
            "description": "Submit jobs to run sync (blocking baseline) or async (Celery queue) "
            "and read their status and timings. Every error is JSON "
            '{"error": code, "detail": message}.',
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }


def openapi_handler(document: dict[str, Any]) -> Any:
    """``GET /openapi.json``: the document, serialized once."""
    response_body = json_response(document).body

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=response_body, content_type="application/json")

    return handler
