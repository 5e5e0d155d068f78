"""The generator's reply reader: whole replies out of bytes however the connection splits them."""

from __future__ import annotations

import pytest

from burstlab.experiments.loadgen.httpreply import HttpError, Reply, ReplyReader

SIZED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n"
    b'{"job_id":"a"}'
)
CHUNKED = (
    b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'8\r\n{"part":\r\n6;ext=1\r\n"two"}\r\n0\r\nX-Trailer: t\r\n\r\n'
)
CLOSING = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"


def _feed_all(reader: ReplyReader, pieces: list[bytes]) -> list[Reply]:
    replies = []
    for piece in pieces:
        replies.extend(reader.feed(piece))
    return replies


def test_a_sized_reply_in_one_read_is_read_whole_and_keeps_the_connection() -> None:
    # Given a reader, when one whole sized reply arrives
    replies = ReplyReader().feed(SIZED)
    # Then it is one reply with its status and body, on a reusable connection
    assert replies == [Reply(202, b'{"job_id":"a"}', keep_alive=True)]


@pytest.mark.parametrize("reply", [SIZED, CHUNKED, CLOSING], ids=["sized", "chunked", "closing"])
def test_a_reply_split_at_every_byte_gives_the_same_reply_once(reply: bytes) -> None:
    # Given the reply read whole
    whole = ReplyReader().feed(reply)
    # When the same bytes arrive one at a time
    reader = ReplyReader()
    split = _feed_all(reader, [reply[i : i + 1] for i in range(len(reply))])
    # Then the reply comes out once, the same, and nothing is left held
    assert len(whole) == 1
    assert split == whole
    assert reader.idle


def test_pipelined_replies_in_one_read_come_out_in_order() -> None:
    # When a sized, a chunked and a closing reply arrive in one read
    replies = ReplyReader().feed(SIZED + CHUNKED + CLOSING)
    # Then all three come out, in order, with their bodies and keep-alive
    assert [(r.status, r.body, r.keep_alive) for r in replies] == [
        (202, b'{"job_id":"a"}', True),
        (201, b'{"part":"two"}', True),
        (503, b"{}", False),
    ]


def test_a_reply_without_length_is_read_until_the_connection_closes() -> None:
    # Given a reply with neither Content-Length nor chunked encoding
    reader = ReplyReader()
    assert reader.feed(b"HTTP/1.1 200 OK\r\n\r\npart one, ") == []
    assert reader.feed(b"part two") == []
    # When the connection closes, then the body is all that came, and the connection is done
    assert reader.feed_eof() == Reply(200, b"part one, part two", keep_alive=False)


def test_no_body_statuses_and_interim_replies_take_no_body() -> None:
    # When a 100 Continue, then a 204 with no length, then a sized reply arrive
    replies = ReplyReader().feed(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n" + SIZED
    )
    # Then the interim reply is skipped and the 204 does not swallow the next reply
    assert [(r.status, r.body) for r in replies] == [(204, b""), (202, b'{"job_id":"a"}')]


def test_an_http_1_0_reply_does_not_keep_the_connection() -> None:
    replies = ReplyReader().feed(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert replies == [Reply(200, b"", keep_alive=False)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 abc OK\r\n\r\n", "not an HTTP status"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "malformed Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000, "reply headers too long"),
    ],
)
def test_a_reply_that_is_not_http_raises_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(HttpError, match=message):
        ReplyReader().feed(data)


def test_a_connection_closed_inside_a_sized_reply_is_an_error() -> None:
    # Given half a sized reply
    reader = ReplyReader()
    reader.feed(SIZED[:-4])
    # When the connection closes, then the cut reply is an error, not a short body
    with pytest.raises(HttpError, match="closed inside a reply"):
        reader.feed_eof()
