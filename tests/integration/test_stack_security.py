"""The local stack's defaults: services on 127.0.0.1 only, and a password-protected Redis that
every service reaches with its password (and that never shows up in a log)."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from burstlab.client import Producer
from burstlab.stack.local import LocalStack, StackConfig
from burstlab.stack.process import descendant_pids

PASSWORD = "pa:ss/w@rd with spaces"
"""Characters that must be quoted in a URL, to prove the quoting is right everywhere."""


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _listening() -> dict[str, str]:
    """Every listening TCP socket on this machine: inode -> local address (hex, as in /proc)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                found[fields[9]] = fields[1].split(":")[0]
    return found


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}


def test_every_service_of_the_local_stack_listens_on_loopback_only(stack: LocalStack) -> None:
    # Given the running stack's processes and their children
    pids = [p.pid for p in stack.processes if p.pid]
    pids += [child for pid in list(pids) for child in descendant_pids(pid)]
    listening = _listening()
    # When their listening sockets are read from /proc
    addresses = {listening[i] for pid in pids for i in _socket_inodes(pid) if i in listening}
    # Then there are several (Redis, producer, baseline, metrics) and all are on 127.0.0.1
    assert len(addresses) >= 1
    owned = [i for pid in pids for i in _socket_inodes(pid) if i in listening]
    assert len(owned) >= 5, owned
    assert addresses <= LOOPBACK, addresses


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    run_dir = tmp_path_factory.mktemp("protected")
    config = StackConfig(workers=1, baseline_workers=1, run_dir=run_dir, redis_password=PASSWORD)
    with LocalStack(config) as local:
        yield local


def test_a_password_protected_redis_refuses_clients_without_the_password(
    protected: LocalStack,
) -> None:
    port = protected.redis_url.rsplit(":", 1)[1].split("/")[0]
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=int(port)).ping()
    assert redis.Redis.from_url(protected.redis_url).ping()


def test_jobs_run_end_to_end_through_a_password_protected_redis(protected: LocalStack) -> None:
    producer = Producer(protected.producer_url, timeout_s=10)
    # When a sync and an async job are submitted
    sync = producer.submit("sync", "io", 5)
    queued = producer.submit("async", "io", 5)
    done = producer.get_job(queued["job_id"], wait_s=20)
    # Then both ran: the producer, the worker and the baseline all reach Redis
    assert sync["status"] == "succeeded" and done["status"] == "succeeded"
    with urllib.request.urlopen(f"{protected.producer_url}/readyz", timeout=5) as response:
        assert response.status == 200
    # And the password appears in no log
    for process in protected.processes:
        assert PASSWORD not in process.log_path.read_text(errors="replace"), process.name
