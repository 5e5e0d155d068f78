"""An error answer says what went wrong even when the exception behind it carries no message."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError

from producer.backends.publisher import reason


def test_a_message_is_kept_and_a_silent_exception_is_named() -> None:
    assert reason(RedisConnectionError("Connection refused")) == "Connection refused"
    assert reason(TimeoutError()) == "timed out"
    assert reason(RedisConnectionError()) == "ConnectionError (no detail)"
