"""RabbitMQ as the broker: jobs run end to end, the limits hold, a killed worker loses nothing.

One private RabbitMQ node (the installed ``rabbitmq-server``) and a stack on it are shared by the
module: a node takes several seconds to boot. The slow tests (a node crash, a run on both
brokers) start stacks of their own, as ``burstlab faults`` and ``burstlab run`` do. The producers under test that need a queue of
their own (nobody consuming it) run in-process against the same node with another queue name.
Skipped where rabbitmq-server is not installed, except in CI, which installs it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from burstlab.client import Producer
from burstlab.faults import queue_faults
from burstlab.faults.probes import last_finish, ledger, wait_until_final
from burstlab.faults.traffic import Background, accepted_ids, burst, job
from burstlab.jobs.delivery import DEFAULT_VISIBILITY_TIMEOUT_S
from burstlab.stack.local import LocalStack, StackConfig
from burstlab.stack.rabbitmq_server import INSTALL_HINT, rabbitmq_server_binary
from producer.app import create_app
from producer.config import ProducerConfig

pytestmark = pytest.mark.dependency_faults

BROKER_TIMEOUT_S = 0.5
QUICK_S = BROKER_TIMEOUT_S + 30.0
"""A 503 within the broker timeout plus generous room for a loaded machine: a producer that
ignored its timeout would wait for the hung or vanished broker far longer (measured waits:
docs/brokers.md)."""
LIVE_BROKER_TIMEOUT_S = 10.0
"""For tests of a live broker: a first publish (connect, declare, confirm) on a starved machine
may take longer than the short timeout the 503 tests need."""
"""A 503 comes within twice the broker timeout plus half a second of handling."""
NODE_RESTART_BOUND_S = 60.0
"""A generous bound on recovering from a RabbitMQ crash on a loaded machine."""
TINY_BURST = """\
name = "tiny-burst"
description = "8 io jobs of 100 ms at once on 1 worker"
workers = [1]
modes = ["async"]
timeout_s = 30
drain_timeout_s = 30

[[job]]
kind = "io"
duration_ms = 100

[arrival]
pattern = "burst"
size = 8
at_s = 1.0
window_s = 0.0
base_rate = 0.0
duration_s = 1.1
"""


@pytest.fixture(scope="module")
def rabbitmq_installed() -> None:
    """Skip where rabbitmq-server is not installed; fail in CI, which installs it."""
    if rabbitmq_server_binary() is None:
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)


@pytest.fixture(scope="module")
def rabbit_stack(
    rabbitmq_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """A stack (2 worker processes) whose async queue is on a private RabbitMQ node."""
    run_dir = tmp_path_factory.mktemp("rabbit-stack")
    local = LocalStack(
        StackConfig(workers=2, baseline_workers=1, run_dir=run_dir, broker="rabbitmq")
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()


async def _producer(aiohttp_client: Any, stack: LocalStack, **config: Any) -> TestClient:
    settings = {
        "redis_url": stack.redis_url,
        "broker_url": stack.broker_url,
        "rabbitmq_management_url": stack.rabbitmq_management_url,
        "baseline_url": stack.baseline_url,
        "broker_timeout_s": BROKER_TIMEOUT_S,
        **config,
    }
    return await aiohttp_client(create_app(ProducerConfig(**settings)))


def _metric(url: str, name: str) -> float | None:
    with urllib.request.urlopen(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def test_sync_and_async_jobs_run_end_to_end_with_rabbitmq_as_the_broker(
    rabbit_stack: LocalStack,
) -> None:
    # Given a stack whose producer publishes async jobs to RabbitMQ
    producer = Producer(rabbit_stack.producer_url, timeout_s=10)
    # When an async and a sync job are submitted
    queued = producer.submit("async", "io", 20, payload_bytes=100)
    done = producer.run("sync", "io", 10)
    # Then the async job was accepted and a Celery worker ran it from the RabbitMQ queue
    assert queued["status"] == "queued"
    view = producer.wait(queued["job_id"], 20)
    assert view["status"] == "succeeded" and view["attempts"] == 1
    assert view["result"]["payload_bytes"] == 100
    # And the sync job ran on the baseline as before
    assert done["status"] == "succeeded"
    # And the queue reads back from the broker, empty once the job finished
    depth = producer.queue()
    assert depth["queued"] == 0 and depth["finished_total"] >= 1
    assert _metric(rabbit_stack.metrics_urls["producer"], "burstlab_broker_up") == 1.0


async def test_the_queue_counts_ready_messages_and_429s_beyond_the_backlog_limit(
    aiohttp_client: Any, rabbit_stack: LocalStack
) -> None:
    # Given a producer on a queue nobody consumes, with a backlog limit of 5
    queue = f"unconsumed-{time.monotonic_ns()}"
    client = await _producer(
        aiohttp_client,
        rabbit_stack,
        queue=queue,
        max_backlog=5,
        broker_timeout_s=LIVE_BROKER_TIMEOUT_S,
    )
    body = job("async", 10)
    # When 8 async jobs are submitted one after the other
    statuses = []
    for _ in range(8):
        response = await client.post("/jobs", json=body)
        statuses.append(response.status)
    # Then the first 5 were confirmed and the rest refused with 429 and Retry-After
    assert statuses == [202] * 5 + [429] * 3
    # And GET /queue reads the 5 ready messages from RabbitMQ
    depth = await (await client.get("/queue")).json()
    assert depth["queued"] == 5 and depth["backlog"] >= 5


async def test_a_quorum_queue_is_declared_when_the_queue_type_asks_for_one(
    aiohttp_client: Any, rabbit_stack: LocalStack
) -> None:
    # Given a producer configured for a quorum queue of its own
    queue = f"quorum-{time.monotonic_ns()}"
    client = await _producer(
        aiohttp_client,
        rabbit_stack,
        queue=queue,
        queue_type="quorum",
        broker_timeout_s=LIVE_BROKER_TIMEOUT_S,
    )
    # When a job is submitted
    response = await client.post("/jobs", json=job("async", 10))
    assert response.status == 202
    # Then RabbitMQ holds the queue as a quorum queue
    assert rabbit_stack.rabbitmq_management_url
    login, _, address = rabbit_stack.rabbitmq_management_url[7:].rpartition("@")
    request = urllib.request.Request(f"http://{address}/api/queues/%2F/{queue}")
    request.add_header("Authorization", "Basic " + base64.b64encode(login.encode()).decode())
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert orjson.loads(answer.read())["type"] == "quorum"


async def test_an_async_job_gets_503_at_once_when_rabbitmq_refuses_connections(
    aiohttp_client: Any, rabbit_stack: LocalStack, closed_port: int
) -> None:
    # Given a producer whose RabbitMQ is down (nothing listens on its port)
    client = await _producer(
        aiohttp_client,
        rabbit_stack,
        broker_url=f"amqp://burstlab:PASSWORD@127.0.0.1:{closed_port}/",
        rabbitmq_management_url=None,
    )
    # When an async job is submitted
    started = time.monotonic()
    response = await client.post("/jobs", json=job("async", 10))
    elapsed = time.monotonic() - started
    # Then it is refused quickly with 503 naming the broker
    assert response.status == 503
    assert (await response.json())["error"] == "broker_unavailable"
    assert elapsed < QUICK_S
    # And /readyz names the broker too
    ready = await client.get("/readyz")
    assert ready.status == 503 and "broker" in (await ready.json())["detail"]


async def test_an_async_job_gets_503_when_rabbitmq_does_not_answer_in_time(
    aiohttp_client: Any, rabbit_stack: LocalStack, hung_port: int
) -> None:
    # Given a producer whose RabbitMQ accepts connections but never answers
    client = await _producer(
        aiohttp_client,
        rabbit_stack,
        broker_url=f"amqp://burstlab:PASSWORD@127.0.0.1:{hung_port}/",
        rabbitmq_management_url=None,
    )
    # When an async job is submitted
    started = time.monotonic()
    response = await client.post("/jobs", json=job("async", 10))
    elapsed = time.monotonic() - started
    # Then it is refused with 503 once the broker timeout passed, not later
    assert response.status == 503
    assert BROKER_TIMEOUT_S * 0.9 < elapsed < QUICK_S


class Relay:
    """A TCP relay to RabbitMQ's AMQP port. Closing it cuts the connections through it and
    refuses new ones, as a broker that went away does; starting it again on the same port is
    the broker's return."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def test_a_connected_producer_answers_503_within_about_a_second_while_rabbitmq_is_gone(
    aiohttp_client: Any, rabbit_stack: LocalStack
) -> None:
    # Given a producer connected to RabbitMQ through a relay, that has published a job
    amqp = urllib.parse.urlsplit(rabbit_stack.broker_url)
    assert amqp.hostname and amqp.port
    relay = Relay(amqp.hostname, amqp.port)
    await relay.start()
    broker_url = amqp._replace(netloc=f"{amqp.netloc.rpartition('@')[0]}@127.0.0.1:{relay.port}")
    client = await _producer(
        aiohttp_client,
        rabbit_stack,
        queue=f"relayed-{time.monotonic_ns()}",
        broker_url=broker_url.geturl(),
        rabbitmq_management_url=None,
    )
    assert await _accepted_within(client, LIVE_BROKER_TIMEOUT_S)
    # When RabbitMQ goes away under its open connection (and refuses new ones)
    await relay.close()
    # Then every submit is refused with 503 naming the broker, each within about a second
    for _ in range(3):
        started = time.monotonic()
        response = await client.post("/jobs", json=job("async", 10))
        elapsed = time.monotonic() - started
        assert response.status == 503, await response.text()
        assert (await response.json())["error"] == "broker_unavailable"
        assert elapsed < QUICK_S
    # And once RabbitMQ is back on the same port the producer reconnects by itself
    await relay.start()
    try:
        assert await _accepted_within(client, LIVE_BROKER_TIMEOUT_S)
    finally:
        await relay.close()


async def _accepted_within(client: TestClient, seconds: float) -> bool:
    """Submit until a job is accepted (202) or ``seconds`` pass; a first publish connects and
    declares, which a starved machine may not do within the short broker timeout."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = await client.post("/jobs", json=job("async", 10))
        if response.status == 202:
            return True
        assert response.status == 503, await response.text()
        await asyncio.sleep(0.2)
    return False


def test_a_worker_killed_mid_burst_loses_no_job_and_its_jobs_return_at_once(
    rabbit_stack: LocalStack,
) -> None:
    # Given a burst of 200 async jobs of 100 ms draining on 2 worker processes
    url = rabbit_stack.producer_url
    traffic = Background(burst(url, job("async", 100), 200))
    time.sleep(1.5)
    # When the whole worker (main process and pool) is killed; the supervisor restarts it
    fault_at = time.time()
    rabbit_stack.kill("worker", signal.SIGKILL)
    answers = traffic.result()
    answers += asyncio.run(burst(url, job("async", 100), 20))
    # Then every accepted job completes: none lost
    accepted = accepted_ids(answers, 202)
    views = wait_until_final(url, accepted, 120)
    completed, lost, duplicated = ledger(views, accepted)
    assert len(accepted) == 220 and completed == 220 and lost == 0
    # And the jobs the worker was running ran again as soon as it was back: RabbitMQ requeues
    # a closed connection's unacknowledged messages at once, before Redis' visibility timeout
    # (15 s) would even have handed them out again (measured: 2.3-3.6 s)
    rerun = {i for i in accepted if int(views[i].get("attempts") or 0) > 1}
    assert 1 <= len(rerun) <= 2 and duplicated == len(rerun)
    end = last_finish(views, rerun)
    assert end is not None
    assert end - fault_at < DEFAULT_VISIBILITY_TIMEOUT_S


@pytest.mark.slow
def test_a_crashed_rabbitmq_node_answers_503_while_down_and_loses_no_accepted_job(
    rabbitmq_installed: None,
) -> None:
    # Given a burst in flight on a stack of its own, When its RabbitMQ node is SIGKILLed and
    # started again 3 s later
    report = queue_faults.broker_crash(broker="rabbitmq")
    # Then while it is down submits are refused fast with 503 and /readyz names the broker
    assert report.notes["submits while down"] == "5/5 answered 503"
    assert float(report.notes["slowest 503 s"]) < QUICK_S  # type: ignore[arg-type]
    assert report.notes["readyz names broker"] is True
    # And every job accepted before or after completes: confirmed persistent messages survive
    assert report.accepted == 220 and report.completed == 220 and report.lost == 0
    # (measured 12.5-12.9 s: the node boots in about 8 s, then the workers reconnect; none when
    # the redelivered jobs had all finished already and were acknowledged without running)
    assert report.recovery_s is None or report.recovery_s < NODE_RESTART_BOUND_S
    assert float(report.notes["worker consuming again after s"]) < NODE_RESTART_BOUND_S  # type: ignore[arg-type]


@pytest.mark.slow
def test_one_run_compares_both_brokers_on_their_own_stacks(
    rabbitmq_installed: None, tmp_path: Path
) -> None:
    # Given a tiny burst scenario (8 async jobs of 100 ms on 1 worker)
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY_BURST)
    # When `burstlab run --brokers redis,rabbitmq` runs it
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "burstlab",
            "run",
            str(scenario),
            "--brokers",
            "redis,rabbitmq",
            "--out",
            str(tmp_path / "out"),
            "--no-live",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    # Then each broker's run has its own results folder, every job done on both
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for broker in ("redis", "rabbitmq"):
        summary = json.loads((tmp_path / "out" / broker / "summary.json").read_text())
        assert summary["broker"] == broker
        assert summary["runs"][0]["completed"] == 8
    # And the second is printed against the first, with a plot
    assert "redis → rabbitmq" in proc.stdout
    assert (tmp_path / "out" / "brokers.png").stat().st_size > 5000
    # And one report beside them has each broker's drain, per-task overhead and ledger
    both = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert both["lost"] == 0 and both["passed"] is True
    for broker in ("redis", "rabbitmq"):
        (run,) = both["brokers"][broker]["runs"]
        assert run["jobs"] == 8 and run["lost"] == 0 and run["duplicated"] == 0
        # 8 jobs of 100 ms on 1 worker: at least the ideal 0.8 s, plus a cost per job
        assert run["ideal_drain_s"] == pytest.approx(0.8)
        assert run["drain_s"] >= run["ideal_drain_s"] and run["per_task_ms"] >= 0
    assert "| async x1 | rabbitmq | 8 |" in (tmp_path / "out" / "report.md").read_text()
