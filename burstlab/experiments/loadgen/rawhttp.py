"""The load generator's hot path: pre-built HTTP/1.1 requests on warm keep-alive connections.

A send is one ``transport.write`` of bytes built before the run, on a connection opened before
the run: no connection set-up, header building or JSON encoding while the schedule is being
kept. Each connection is an asyncio protocol that reads its replies as they arrive
(:mod:`httpreply`) and hands each to the callback given with its request, so no task, future
or stream read exists per request.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from burstlab.experiments.loadgen.httpreply import HttpError, Reply, ReplyReader

__all__ = [
    "Connection",
    "ConnectionPool",
    "Endpoint",
    "HttpError",
    "Reply",
    "build_post",
    "build_request",
]

OnReply = Callable[[Reply | None, BaseException | None], None]
"""Called once per request: with its reply, or with the error that ended the connection."""


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: host, port and the request target (path)."""

    host: str
    port: int
    path: str

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """``http://host:port/path`` as an endpoint (only plain ``http`` is supported)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http://host[:port]/path URLs are supported, not {url!r}")
        return cls(parts.hostname, parts.port or 80, parts.path or "/")


def build_post(endpoint: Endpoint, body: bytes, content_type: str = "application/json") -> bytes:
    """The complete bytes of a keep-alive ``POST`` of ``body`` to ``endpoint``."""
    return build_request("POST", endpoint, body, content_type)


def build_request(
    method: str, endpoint: Endpoint, body: bytes, content_type: str = "application/json"
) -> bytes:
    """The complete bytes of a keep-alive ``method`` request of ``body`` to ``endpoint``."""
    head = (
        f"{method} {endpoint.path} HTTP/1.1\r\n"
        f"Host: {endpoint.host}:{endpoint.port}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


class Connection(asyncio.Protocol):
    """One keep-alive connection: requests written in order, replies matched to them in order."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._reader = ReplyReader()
        self._waiting: deque[tuple[float, OnReply]] = deque()
        """Per request written, not yet answered: when it was written (monotonic), its callback."""
        self._held: deque[tuple[Reply | None, BaseException | None]] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self.usable = True

    @classmethod
    async def open(cls, endpoint: Endpoint) -> Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(cls, endpoint.host, endpoint.port)
        return connection

    @property
    def in_flight(self) -> int:
        """Requests written whose replies have not been read."""
        return len(self._waiting)

    def send(self, request: bytes, on_reply: OnReply) -> None:
        """Hand ``request`` to the socket now; ``on_reply`` gets its reply (or error) later."""
        if self._transport is None or not self.usable:
            on_reply(None, HttpError("connection closed before the request was written"))
            return
        self._waiting.append((time.monotonic(), on_reply))
        self._transport.write(request)

    def write(self, request: bytes) -> None:
        """Send ``request``; its reply is then read with :meth:`read_reply`."""
        self.send(request, self._hold)

    async def read_reply(self) -> Reply:
        """The reply to the oldest :meth:`write`; a malformed reply or a closed connection
        raises :class:`HttpError`."""
        while not self._held:
            self._wakeup = asyncio.get_running_loop().create_future()
            await self._wakeup
        reply, error = self._held.popleft()
        if error is not None:
            raise error
        assert reply is not None
        return reply

    def expire(self, now: float, timeout_s: float) -> None:
        """Fail every request and drop the connection if the oldest has waited ``timeout_s``."""
        if self._waiting and now - self._waiting[0][0] >= timeout_s:
            self._fail(TimeoutError())
            if self._transport is not None:
                self._transport.abort()

    def close(self) -> None:
        self.usable = False
        if self._transport is not None:
            self._transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            replies = self._reader.feed(data)
        except HttpError as exc:
            self._fail(exc)
            self.close()
            return
        for reply in replies:
            if not self._waiting:
                self._fail(HttpError("a reply to no request"))
                self.close()
                return
            if not reply.keep_alive:
                self.usable = False
            self._waiting.popleft()[1](reply, None)

    def eof_received(self) -> bool:
        try:
            reply = self._reader.feed_eof()
        except HttpError as exc:
            self._fail(exc)
            return False
        self.usable = False
        if reply is not None and self._waiting:
            self._waiting.popleft()[1](reply, None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._fail(HttpError("connection closed before a reply"))

    def _fail(self, error: BaseException) -> None:
        self.usable = False
        while self._waiting:
            self._waiting.popleft()[1](None, error)

    def _hold(self, reply: Reply | None, error: BaseException | None) -> None:
        self._held.append((reply, error))
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)


class ConnectionPool:
    """Keep-alive connections to one endpoint, opened ahead; an idle one is taken without await."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._idle: list[Connection] = []
        self._all: set[Connection] = set()
        self.opened_during_run = 0

    async def warm(self, count: int) -> None:
        """Open ``count`` connections now, before any send."""
        opened = await asyncio.gather(*(Connection.open(self.endpoint) for _ in range(count)))
        self._all.update(opened)
        self._idle.extend(opened)

    @property
    def size(self) -> int:
        """Connections open (idle or carrying a request)."""
        return len(self._all)

    def take_idle(self) -> Connection | None:
        """An idle connection, or None if all are busy (the caller then opens one)."""
        while self._idle:
            connection = self._idle.pop()
            if connection.usable:
                return connection
            self._all.discard(connection)
        return None

    async def open_one(self) -> Connection:
        """A new connection, for a send that found none idle."""
        connection = await Connection.open(self.endpoint)
        self._all.add(connection)
        self.opened_during_run += 1
        return connection

    def give_back(self, connection: Connection, reusable: bool) -> None:
        """Return ``connection`` after its reply; close it if it cannot carry another request."""
        if reusable and connection.usable:
            if connection.in_flight == 0:
                self._idle.append(connection)
        else:
            self._all.discard(connection)
            connection.close()

    def expire(self, timeout_s: float) -> None:
        """Fail the requests of every connection whose oldest has waited ``timeout_s``."""
        now = time.monotonic()
        for connection in list(self._all):
            connection.expire(now, timeout_s)

    def close(self) -> None:
        for connection in self._all:
            connection.close()
        self._all.clear()
        self._idle.clear()
