"""An incremental reader of HTTP/1.1 replies: bytes in as they arrive, whole replies out.

The generator reads replies in its connections' ``data_received``, so no task, future or stream
read runs per request. It reads just what it needs: the status, the body (by ``Content-Length``,
chunked, or until the connection closes) and whether the connection may carry another request.
Several replies in one read (pipelined) and a reply split over many reads are both handled.
"""

from __future__ import annotations

from dataclasses import dataclass

_HEADER_END = b"\r\n\r\n"
_CRLF = b"\r\n"
MAX_HEAD_BYTES = 64 * 1024
"""A reply head longer than this is not one the generator's servers send: an error, not a wait."""
_NO_BODY_STATUSES = frozenset({204, 304})


class HttpError(Exception):
    """The server's reply was not the HTTP/1.1 the generator reads, or the connection closed."""


@dataclass(frozen=True)
class Reply:
    """A parsed reply: status, body, and whether the connection may be used again."""

    status: int
    body: bytes
    keep_alive: bool


def _header(lowered_head: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case, with its colon) in a lower-cased reply head."""
    start = lowered_head.find(b"\r\n" + name)
    if start < 0:
        return None
    start += 2 + len(name)
    end = lowered_head.find(_CRLF, start)
    return lowered_head[start : end if end >= 0 else len(lowered_head)].strip()


class ReplyReader:
    """Feed it the bytes of one connection; it returns each reply once it is complete."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._head: tuple[int, bool] | None = None
        """Status and keep-alive of the reply whose body is being read."""
        self._length: int | None = None
        """Body bytes expected (Content-Length), or None for chunked / until close."""
        self._chunked = False
        self._chunks: list[bytes] = []

    def feed(self, data: bytes) -> list[Reply]:
        """Take ``data`` (the next bytes from the connection); return the replies it completed.

        A reply that is not HTTP/1.x raises :class:`HttpError`; the connection is then unusable.
        """
        if not self._buffer and self._head is None:
            fast = self._whole_reply(data)
            if fast is not None:
                return [fast]
        self._buffer += data
        replies: list[Reply] = []
        while True:
            reply = self._next()
            if reply is None:
                return replies
            replies.append(reply)

    def feed_eof(self) -> Reply | None:
        """The connection closed: the reply read until close, if one was being read, else None.

        A reply cut short (headers or a sized body incomplete) raises :class:`HttpError`.
        """
        if self._head is not None and self._length is None and not self._chunked:
            status, _ = self._head
            body = bytes(self._buffer)
            self._buffer.clear()
            self._head = None
            return Reply(status, body, keep_alive=False)
        if self._head is not None or self._buffer:
            raise HttpError("connection closed inside a reply")
        return None

    @property
    def idle(self) -> bool:
        """No partial reply is held."""
        return self._head is None and not self._buffer

    def _whole_reply(self, data: bytes) -> Reply | None:
        """The common case, one whole sized reply in one read, without copying into the buffer."""
        end = data.find(_HEADER_END)
        if end < 0:
            return None
        status, keep_alive, length, chunked = _parse_head(data[:end])
        if chunked or length is None or status < 200 or end + 4 + length != len(data):
            return None
        return Reply(status, data[end + 4 :], keep_alive)

    def _next(self) -> Reply | None:
        if self._head is None:
            end = self._buffer.find(_HEADER_END)
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise HttpError("reply headers too long")
                return None
            status, keep_alive, length, chunked = _parse_head(bytes(self._buffer[:end]))
            del self._buffer[: end + 4]
            if status in _NO_BODY_STATUSES or 100 <= status < 200:
                length, chunked = 0, False
            if 100 <= status < 200:
                return self._next()  # an interim reply: the real one follows
            self._head = (status, keep_alive if (length is not None or chunked) else False)
            self._length, self._chunked, self._chunks = length, chunked, []
        if self._chunked:
            return self._next_chunked()
        if self._length is None or len(self._buffer) < self._length:
            return None  # read until close, or the body is still arriving
        body = bytes(self._buffer[: self._length])
        del self._buffer[: self._length]
        return self._finish(body)

    def _next_chunked(self) -> Reply | None:
        while True:
            line_end = self._buffer.find(_CRLF)
            if line_end < 0:
                return None
            if self._chunks and self._chunks[-1] == b"":
                # after the last chunk: trailer lines up to an empty one
                del self._buffer[: line_end + 2]
                if line_end == 0:
                    self._chunks.pop()
                    return self._finish(b"".join(self._chunks))
                continue
            try:
                size = int(bytes(self._buffer[:line_end]).split(b";")[0], 16)
            except ValueError as exc:
                raise HttpError("malformed chunk size") from exc
            if size == 0:
                del self._buffer[: line_end + 2]
                self._chunks.append(b"")
                continue
            if len(self._buffer) < line_end + 2 + size + 2:
                return None
            start = line_end + 2
            self._chunks.append(bytes(self._buffer[start : start + size]))
            del self._buffer[: start + size + 2]

    def _finish(self, body: bytes) -> Reply:
        assert self._head is not None
        status, keep_alive = self._head
        self._head, self._length, self._chunked, self._chunks = None, None, False, []
        return Reply(status, body, keep_alive)


def _parse_head(head: bytes) -> tuple[int, bool, int | None, bool]:
    """Status, keep-alive, Content-Length (None if absent) and chunked, from a reply head."""
    line_end = head.find(_CRLF)
    status_line = (head if line_end < 0 else head[:line_end]).split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        raise HttpError(f"not an HTTP/1.x status line: {status_line[0][:100]!r}")
    try:
        status = int(status_line[1])
    except ValueError as exc:
        raise HttpError(f"not an HTTP status: {status_line[1][:20]!r}") from exc
    lowered = head.lower()
    connection = _header(lowered, b"connection:")
    keep_alive = status_line[0] == b"HTTP/1.1" and connection != b"close"
    chunked = b"chunked" in (_header(lowered, b"transfer-encoding:") or b"")
    length_value = None if chunked else _header(lowered, b"content-length:")
    length = None
    if length_value is not None:
        try:
            length = int(length_value)
        except ValueError as exc:
            raise HttpError(f"malformed Content-Length: {length_value[:20]!r}") from exc
    if length is not None and length < 0:
        raise HttpError(f"negative Content-Length: {length}")
    return status, keep_alive, length, chunked
