"""The producer's Redis connections come back after a restart, a killed connection and a server
that closed an idle one, with either of redis-py's parsers (hiredis or its own)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser
from redis.exceptions import RedisError

from burstlab.jobs.task_message import task_message
from burstlab.stack.ports import free_port
from burstlab.stack.process import ManagedProcess
from burstlab.stack.redis_server import redis_process
from producer.backends.publisher import Enqueue, Publisher
from producer.backends.redis_connection import DedicatedConnection, redis_client

pytestmark = pytest.mark.dependency_faults

PARSERS = pytest.mark.parametrize(
    "parser", [_AsyncHiredisParser, _AsyncRESP2Parser], ids=["hiredis", "python"]
)


class PrivateRedis:
    """A Redis server of this module's own, which a test may kill and start again on its port."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._folder = folder
        self.process = self._start()

    def _start(self) -> ManagedProcess:
        process = redis_process(
            self.port, self._folder / "data", self._folder / "redis.log", appendonly=False
        )
        process.start()
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        for _ in range(200):
            try:
                client.ping()
                return process
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"Redis did not start: {process.tail()}")

    def sigkill_and_restart(self) -> None:
        self.process.signal(signal.SIGKILL)
        self.process.reap()
        self.process = self._start()

    def admin(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateRedis]:
    private = PrivateRedis(tmp_path)
    try:
        yield private
    finally:
        private.process.stop()


def client_for(server: PrivateRedis, parser: type) -> redis.asyncio.Redis:
    client = redis_client(server.url, 1.0)
    client.connection_pool.connection_kwargs["parser_class"] = parser
    return client


async def ping(connection: DedicatedConnection) -> object:
    conn = await connection.ready()
    await conn.send_command("PING")
    return await conn.read_response()


def kill_clients(server: PrivateRedis) -> int:
    """Close every normal client connection from the server's side (``CLIENT KILL``)."""
    admin = server.admin()
    own = admin.client_id()
    killed = 0
    for entry in admin.client_list():
        if int(entry["id"]) != own:
            killed += int(admin.client_kill_filter(_id=int(entry["id"])))
    return killed


@PARSERS
async def test_the_dedicated_connection_works_again_on_the_first_use_after_a_redis_restart(
    server: PrivateRedis, parser: type
) -> None:
    # Given a dedicated connection that has been used
    client = client_for(server, parser)
    connection = DedicatedConnection(client)
    assert await ping(connection) == b"PONG"
    # When Redis is killed and started again on the same port
    await asyncio.to_thread(server.sigkill_and_restart)
    # Then the very first use goes through
    assert await ping(connection) == b"PONG"
    await connection.discard()
    await client.aclose()


@PARSERS
async def test_the_dedicated_connection_works_again_after_the_server_killed_it(
    server: PrivateRedis, parser: type
) -> None:
    client = client_for(server, parser)
    connection = DedicatedConnection(client)
    assert await ping(connection) == b"PONG"
    # When the server closes it (CLIENT KILL) and its FIN has arrived
    assert kill_clients(server) >= 1
    await asyncio.sleep(0.1)
    # Then the next use reconnects instead of failing
    assert await ping(connection) == b"PONG"
    await connection.discard()
    await client.aclose()


@PARSERS
async def test_the_dedicated_connection_works_again_after_an_idle_timeout(
    server: PrivateRedis, parser: type
) -> None:
    server.admin().config_set("timeout", 1)
    client = client_for(server, parser)
    connection = DedicatedConnection(client)
    assert await ping(connection) == b"PONG"
    # When the server drops the connection as idle (it checks about every 100 ms past 1 s)
    await asyncio.sleep(2.5)
    # Then the next use reconnects
    assert await ping(connection) == b"PONG"
    await connection.discard()
    await client.aclose()


@PARSERS
async def test_the_dedicated_connection_refuses_fast_while_redis_is_down_and_comes_back(
    server: PrivateRedis, parser: type
) -> None:
    client = client_for(server, parser)
    connection = DedicatedConnection(client)
    assert await ping(connection) == b"PONG"
    server.process.signal(signal.SIGKILL)
    server.process.reap()
    # While Redis is down, each use fails with a Redis error (the caller's 503)
    for _ in range(3):
        with pytest.raises(RedisError):
            await ping(connection)
    # And once it is back, the first use goes through
    server.process = await asyncio.to_thread(server._start)
    assert await ping(connection) == b"PONG"
    await connection.discard()
    await client.aclose()


def job(number: int) -> Enqueue:
    task_id = f"job-{number}"
    message = task_message(task_id, {"kind": "io", "duration_ms": 1})
    return Enqueue(key=f"burstlab:job:{task_id}", fields=("status", "queued"), task=message)


@PARSERS
@pytest.mark.parametrize("fault", ["restart", "client-kill"])
async def test_the_publisher_accepts_the_first_job_after_redis_is_reachable_again(
    server: PrivateRedis, parser: type, fault: str
) -> None:
    # Given a publisher that has queued a job
    client = client_for(server, parser)
    publisher = Publisher(client, 1.0, queue="q", record_ttl_s=60)
    publisher.start()
    try:
        assert await publisher.enqueue(job(1)) is True
        # When its connection goes away under it
        if fault == "restart":
            await asyncio.to_thread(server.sigkill_and_restart)
        else:
            kill_clients(server)
            await asyncio.sleep(0.1)
        # Then the next job is accepted on the first try, and is in the queue
        assert await publisher.enqueue(job(2)) is True
        assert server.admin().llen("q") >= 1
    finally:
        await publisher.close()
        await client.aclose()
