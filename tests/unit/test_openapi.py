"""The OpenAPI document describes exactly the producer's routes, and is a valid document."""

from __future__ import annotations

import schemathesis

from producer.app import create_app
from producer.config import ProducerConfig
from producer.openapi import openapi_document


def _routes(config: ProducerConfig) -> set[tuple[str, str]]:
    app = create_app(config)
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method not in ("HEAD", "*")
    }


def _documented(document: dict[str, object]) -> set[tuple[str, str]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return {(method, path) for path, item in paths.items() for method in item}


def test_every_route_is_documented_and_every_documented_operation_exists() -> None:
    for config in (ProducerConfig(), ProducerConfig(metrics_enabled=False)):
        document = openapi_document(metrics_route=config.metrics_enabled)
        assert _routes(config) == _documented(document)


def test_the_document_loads_as_openapi_and_every_operation_is_usable() -> None:
    schema = schemathesis.openapi.from_dict(openapi_document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "POST /jobs",
        "POST /jobs/lookup",
        "GET /jobs/{job_id}",
        "GET /queue",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "PUT /experiment",
        "GET /openapi.json",
    }


def test_every_error_answer_is_documented_as_the_json_error_object() -> None:
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and path != "/readyz":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path)
