"""JSON errors: every HTTP error the producer sends is ``{"error": code, "detail": message}``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

import orjson
from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CODES_BY_STATUS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "body_too_large",
    415: "unsupported_media_type",
}


RETRY_AFTER_S = 1
"""Seconds a client refused for a passing condition (broker down, backlog full, overload) is
asked to wait before retrying."""


def retry_after(seconds: int = RETRY_AFTER_S) -> dict[str, str]:
    """The ``Retry-After`` header asking a client to wait ``seconds`` before retrying."""
    return {"Retry-After": str(seconds)}


CLOSE_AFTER = (408, 413)
"""Statuses answered before the whole body was read: the connection is closed after them."""


class ApiError(Exception):
    """An error answered to the client as JSON."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def json_response(
    body: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Serialize ``body`` with orjson into an ``application/json`` response."""
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def error_response(error: ApiError) -> web.Response:
    """Render ``error`` as its JSON response."""
    body: dict[str, object] = {"error": error.code, "detail": error.detail, **error.extra}
    response = json_response(body, error.status, error.headers)
    if error.status in CLOSE_AFTER:
        response.force_close()  # the rest of the body was never read: do not reuse the socket
    return response


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> ApiError:
    status = exc.status
    code = _CODES_BY_STATUS.get(status, "http_error")
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    if status == 404:
        detail = f"no route for {request.method} {request.path}"
    elif status == 405:
        allowed = headers.get("Allow", "")
        detail = f"{request.method} is not allowed on {request.path}; allowed: {allowed}"
    elif status == 413:
        detail = f"the request body is too large: {exc.text or ''}".strip()
    else:
        detail = exc.reason
    return ApiError(status, code, detail, headers=headers)


def error_for(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The JSON answer to ``exc``, raised by a handler: an API error or an HTTP error as itself,
    anything unexpected as a logged 500 (call it in the ``except`` block). A non-error HTTP
    exception (a redirect) is raised again for aiohttp to send."""
    if isinstance(exc, ApiError):
        return error_response(exc)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        return error_response(_from_http_exception(request, exc))
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(ApiError(500, "internal_error", "an internal error occurred"))


def json_errors(handler: Handler) -> Handler:
    """``handler`` with every error it raises answered as JSON (see :func:`error_for`)."""

    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as exc:
            return error_for(request, exc)

    return answer
