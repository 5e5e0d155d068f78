"""Reading JSON request bodies, with the producer's errors for what is not JSON."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from producer import keys
from producer.errors import ApiError

_JSON_TYPES = ("application/json",)


async def read_json(request: web.Request) -> object:
    """Read and decode the JSON body: size-limited by the app's ``client_max_size``, and a
    client that takes longer than ``body_timeout_s`` to send it gets 408."""
    content_type = request.headers.get("Content-Type")
    if content_type is not None:
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime not in _JSON_TYPES and not mime.endswith("+json"):
            raise ApiError(
                415,
                "unsupported_media_type",
                f"the body must be application/json, got {mime or 'an empty Content-Type'}",
            )
    config = request.app[keys.CONFIG]
    announced = request.content_length
    if announced is not None and announced > config.max_body_bytes:
        # Refuse at once: waiting for a body that will be refused anyway only holds a socket.
        raise ApiError(
            413,
            "body_too_large",
            f"the body announces {announced} bytes; the limit is {config.max_body_bytes}",
        )
    timeout_s = config.body_timeout_s
    try:
        if request.content.is_eof():
            raw = await request.read()  # the whole body has arrived: nothing to wait for
        else:
            async with asyncio.timeout(timeout_s):  # a timer, not a task as wait_for would be
                raw = await request.read()
    except TimeoutError:
        raise ApiError(
            408,
            "request_timeout",
            f"the request body did not arrive within {timeout_s:g} s",
            headers={"Connection": "close"},
        ) from None
    if not raw:
        raise ApiError(400, "invalid_json", "the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc
