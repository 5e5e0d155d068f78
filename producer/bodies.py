"""Reading JSON request bodies, with the producer's errors for what is not JSON."""

from __future__ import annotations

import orjson
from aiohttp import web

from producer.errors import ApiError

_JSON_TYPES = ("application/json",)


async def read_json(request: web.Request) -> object:
    """Read and decode the JSON body (size-limited by the app's ``client_max_size``)."""
    content_type = request.headers.get("Content-Type")
    if content_type is not None:
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime not in _JSON_TYPES and not mime.endswith("+json"):
            raise ApiError(
                415,
                "unsupported_media_type",
                f"the body must be application/json, got {mime or 'an empty Content-Type'}",
            )
    raw = await request.read()
    if not raw:
        raise ApiError(400, "invalid_json", "the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc
