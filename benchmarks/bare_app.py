"""The physical limit the producer is compared with: an aiohttp handler that only answers 202.

Run: python benchmarks/bare_app.py PORT
"""

from __future__ import annotations

import sys

import uvloop
from aiohttp import web

BODY = b'{"job_id":"00000000-0000-0000-0000-000000000000","mode":"async","status":"queued"}'


async def accept(request: web.Request) -> web.Response:
    """Read the body and answer 202, as cheaply as aiohttp allows."""
    await request.read()
    return web.Response(body=BODY, status=202, content_type="application/json")


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/jobs", accept)
    return app


if __name__ == "__main__":
    # The same event loop as the producer's, so the comparison is of the handlers alone.
    web.run_app(
        create_app(),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=None,
        print=None,
        backlog=2048,  # the producer's: a burst of new connections is queued, not dropped
        loop=uvloop.new_event_loop(),
    )
