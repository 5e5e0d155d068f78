"""The load generator's hot path: pre-built HTTP/1.1 requests on warm keep-alive connections.

A send is one ``transport.write`` of bytes built before the run, on a connection opened before
the run: no connection set-up, header building or JSON encoding while the schedule is being
kept. Replies are parsed just enough for the generator: status line, ``Content-Length`` or
chunked body, and whether the server keeps the connection open.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

_HEADER_END = b"\r\n\r\n"


class HttpError(Exception):
    """The server's reply was not the HTTP/1.1 the generator reads, or the connection closed."""


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
    head = (
        f"POST {endpoint.path} HTTP/1.1\r\n"
        f"Host: {endpoint.host}:{endpoint.port}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


@dataclass(frozen=True)
class Reply:
    """A parsed reply: status, body, and whether the connection may be used again."""

    status: int
    body: bytes
    keep_alive: bool


class Connection:
    """One keep-alive connection: write a request, then read its reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.usable = True

    @classmethod
    async def open(cls, endpoint: Endpoint) -> Connection:
        reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
        return cls(reader, writer)

    def write(self, request: bytes) -> None:
        """Hand ``request`` to the socket now (no await: the send happens in the caller's step)."""
        self._writer.write(request)

    async def read_reply(self) -> Reply:
        """Read one reply; a malformed one or a closed connection raises :class:`HttpError`."""
        try:
            head = await self._reader.readuntil(_HEADER_END)
        except asyncio.IncompleteReadError as exc:
            raise HttpError("connection closed before a reply") from exc
        except asyncio.LimitOverrunError as exc:
            raise HttpError("reply headers too long") from exc
        lines = head[: -len(_HEADER_END)].split(b"\r\n")
        status_line = lines[0].split(b" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
            raise HttpError(f"not an HTTP/1.x status line: {lines[0][:100]!r}")
        status = int(status_line[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        keep_alive = headers.get(b"connection") != b"close" and status_line[0] == b"HTTP/1.1"
        try:
            if b"content-length" in headers:
                body = await self._reader.readexactly(int(headers[b"content-length"]))
            elif headers.get(b"transfer-encoding") == b"chunked":
                body = await self._read_chunked()
            else:
                body = await self._reader.read()
                keep_alive = False
        except asyncio.IncompleteReadError as exc:
            raise HttpError("connection closed inside a reply body") from exc
        return Reply(status, body, keep_alive)

    async def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(chunks)
            chunks.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    def close(self) -> None:
        self.usable = False
        self._writer.close()


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

    def take_idle(self) -> Connection | None:
        """An idle connection, or None if all are busy (the caller then opens one)."""
        return self._idle.pop() if self._idle else None

    async def open_one(self) -> Connection:
        """A new connection, for a send that found none idle."""
        connection = await Connection.open(self.endpoint)
        self._all.add(connection)
        self.opened_during_run += 1
        return connection

    def give_back(self, connection: Connection, reusable: bool) -> None:
        """Return ``connection`` after its reply; close it if it cannot carry another request."""
        if reusable and connection.usable:
            self._idle.append(connection)
        else:
            self._all.discard(connection)
            connection.close()

    def close(self) -> None:
        for connection in self._all:
            connection.close()
        self._all.clear()
        self._idle.clear()
