"""No accepted job is lost: workers take each message and record it unacknowledged in one step.

Against a private Redis: the transport of :mod:`workers.reliable_redis` leaves a fetched message
in kombu's unacked hash (never only in the worker), kombu restores it from there, a duplicate
delivery of a finished job is counted and not run, and storms of kills and stops lose nothing.
"""

from __future__ import annotations

import inspect
import signal
import time
from typing import Any

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.transport import redis as kombu_redis
from kombu.utils.json import loads

from burstlab.client import Producer as ProducerApi
from burstlab.faults.kill_storm import Storm, run_storm
from burstlab.jobs.names import QUEUE_NAME
from burstlab.jobs.spec import parse_spec
from burstlab.jobs.task_message import build_task_message, task_kwargs
from burstlab.stack.local import LocalStack, StackConfig
from workers.reliable_redis import Channel, Transport

pytestmark = pytest.mark.dependency_faults

QUEUE = "reliable-test"
VISIBILITY_S = 0.5


def _connection(redis_url: str) -> Connection:
    return Connection(
        redis_url,
        transport=Transport,
        transport_options={"visibility_timeout": VISIBILITY_S, "unacked_restore_throttle": 1},
    )


def _publish(connection: Connection, body: dict[str, Any]) -> None:
    queue = Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE)
    Producer(connection.channel()).publish(
        body, exchange=queue.exchange, routing_key=QUEUE, declare=[queue], serializer="json"
    )


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    return r


def test_kombus_internals_the_transport_relies_on_are_still_there() -> None:
    # The transport overrides these; if kombu renames or drops one, this fails first.
    for name in ("_brpop_start", "_brpop_read", "_get", "_q_for_pri", "conn_or_acquire"):
        assert callable(getattr(kombu_redis.Channel, name)), name
    poller = inspect.getsource(kombu_redis.MultiChannelPoller)
    assert "_brpop_start" in poller and "_brpop_read" in inspect.getsource(kombu_redis.Channel)
    assert "restore_by_tag" in inspect.getsource(kombu_redis.QoS.restore_visible)
    # kombu's restore reads the unacked entry as [message, exchange, routing_key]
    assert "M, EX, RK = loads" in inspect.getsource(kombu_redis.QoS.restore_by_tag)
    assert issubclass(Channel, kombu_redis.Channel)
    assert "_channels" in inspect.getsource(kombu_redis.MultiChannelPoller.__init__)
    qos_init = inspect.getsource(kombu_redis.QoS.__mro__[1].__init__)
    assert "self._delivered" in qos_init and "self._dirty" in qos_init


def test_a_message_taken_by_a_consumer_is_already_in_the_unacked_hash_when_it_arrives(
    redis_url: str, client: redis.Redis
) -> None:
    # Given a message in the queue
    with _connection(redis_url) as connection:
        _publish(connection, {"n": 1})
        seen: list[tuple[int, int, list[Any], str]] = []

        def on_message(body: dict[str, Any], message: Any) -> None:
            entry = client.hget("unacked", message.delivery_tag)
            seen.append(
                (client.llen(QUEUE), client.hlen("unacked"), loads(entry), message.delivery_tag)
            )
            assert body == {"n": 1}
            message.ack()

        # When a consumer takes it through the event loop's blocking fetch
        channel = connection.channel()
        with Consumer(channel, [Queue(QUEUE)], callbacks=[on_message], accept=["json"]):
            connection.drain_events(timeout=5)
    # Then, when it arrived, it was off the list and in the unacked hash in kombu's format
    assert len(seen) == 1
    queued, unacked, entry, tag = seen[0]
    assert (queued, unacked) == (0, 1)
    payload, exchange, routing_key = entry
    assert (exchange, routing_key) == (QUEUE, QUEUE)
    assert payload["properties"]["delivery_tag"] == tag
    # And the ack removed it
    assert client.hlen("unacked") == 0 and client.zcard("unacked_index") == 0


def test_a_message_the_claim_recorded_is_not_written_to_redis_a_second_time(
    redis_url: str, client: redis.Redis
) -> None:
    # Given a message in the queue and Redis's command counters reset
    with _connection(redis_url) as connection:
        _publish(connection, {"n": 1})
        client.config_resetstat()
        writes: list[list[int]] = []

        def on_message(body: dict[str, Any], message: Any) -> None:
            stats = client.info("commandstats")
            writes.append([stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("hset", "zadd")])
            assert client.hexists("unacked", message.delivery_tag)
            message.ack()

        # When a consumer takes it through the event loop's blocking fetch
        channel = connection.channel()
        with Consumer(channel, [Queue(QUEUE)], callbacks=[on_message], accept=["json"]):
            connection.drain_events(timeout=5)
    # Then it was recorded by the claim script's HSET and ZADD alone: kombu's own record (the same
    # two commands again) never ran
    assert writes == [[1, 1]]
    # And the ack removed it as usual
    assert client.hlen("unacked") == 0 and client.zcard("unacked_index") == 0


def test_a_message_whose_consumer_died_before_acking_is_restored_by_kombus_sweep(
    redis_url: str, client: redis.Redis
) -> None:
    with _connection(redis_url) as connection:
        # Given a message taken (synchronous get) by a consumer that then dies without an ack
        _publish(connection, {"n": 2})
        channel = connection.channel()
        taken = channel.basic_get(QUEUE)
        assert taken is not None
        assert client.llen(QUEUE) == 0 and client.hlen("unacked") == 1
        # When the visibility timeout passes and another consumer's sweep runs
        time.sleep(VISIBILITY_S + 0.2)
        with _connection(redis_url) as other:
            other.channel().qos.restore_visible(num=10, interval=1)
    # Then the message is back in its queue, whole, and no longer unacked
    assert client.hlen("unacked") == 0 and client.llen(QUEUE) == 1
    restored = loads(client.lindex(QUEUE, 0))
    assert restored["properties"]["delivery_tag"] == taken.delivery_tag
    assert restored["headers"]["redelivered"] is True


def test_the_sweep_restores_only_the_messages_whose_holder_stopped_refreshing_them(
    redis_url: str, client: redis.Redis
) -> None:
    with _connection(redis_url) as alive, _connection(redis_url) as dead:
        # Given two consumers each holding one message, unacknowledged
        _publish(alive, {"n": "alive"})
        _publish(alive, {"n": "dead"})
        kept = alive.channel().basic_get(QUEUE)
        lost = dead.channel().basic_get(QUEUE)
        assert kept is not None and lost is not None
        # When the visibility timeout passes and only the live one refreshes what it holds
        time.sleep(VISIBILITY_S + 0.2)
        assert kept.channel.refresh_visibility() == 1
        with _connection(redis_url) as other:
            other.channel().qos.restore_visible(num=10, interval=1)
        # Then kombu's sweep restored the silent one's message and left the live one's held
        assert client.llen(QUEUE) == 1
        restored = loads(client.lindex(QUEUE, 0))
        assert restored["properties"]["delivery_tag"] == lost.delivery_tag
        assert client.hexists("unacked", kept.delivery_tag)
        assert not client.hexists("unacked", lost.delivery_tag)


def test_a_no_ack_get_leaves_nothing_unacked(redis_url: str, client: redis.Redis) -> None:
    with _connection(redis_url) as connection:
        _publish(connection, {"n": 3})
        message = connection.channel().basic_get(QUEUE, no_ack=True)
    assert message is not None
    assert client.llen(QUEUE) == 0 and client.hlen("unacked") == 0


def test_a_duplicate_delivery_of_a_succeeded_job_is_counted_and_not_run_again(
    stack: LocalStack,
) -> None:
    # Given a job that ran and succeeded
    api = ProducerApi(stack.producer_url)
    accepted = api.submit("async", "io", 5)
    first = api.wait(accepted["job_id"], timeout_s=30)
    assert first["status"] == "succeeded" and first["attempts"] == 1
    # When its message is delivered again (as after a redelivery)
    job_id = first["job_id"]
    spec = parse_spec({"kind": "io", "duration_ms": 5})
    message = build_task_message(job_id, task_kwargs(job_id, spec, time.time(), ""))
    redis.Redis.from_url(stack.redis_url).lpush(QUEUE_NAME, message)
    deadline = time.monotonic() + 30
    again = api.get_job(job_id)
    while again.get("duplicates", 0) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        again = api.get_job(job_id)
    # Then the duplicate is counted, the job did not run again, and its record is the first run's
    assert again["duplicates"] == 1 and again["attempts"] == 1
    assert again["result"] == first["result"] and again["timings"] == first["timings"]


@pytest.mark.slow
def test_a_job_four_times_longer_than_the_visibility_timeout_runs_exactly_once() -> None:
    # Given workers with a 3 s visibility timeout and a restore sweep every 5 s
    env = {"VISIBILITY_TIMEOUT_S": "3"}
    with LocalStack(StackConfig(workers=2, baseline_workers=1, extra_env=env)) as stack:
        api = ProducerApi(stack.producer_url)
        # When a job of 12 s runs (kombu's own fetch would see it age out and hand it to the
        # second pool process while the first still runs it)
        job = api.submit("async", "io", 12_000)
        done = api.wait(job["job_id"], timeout_s=60)
    # Then the worker kept it visible: it ran once, and no second delivery came
    assert done["status"] == "succeeded"
    assert done["attempts"] == 1 and done["duplicates"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "stop"])
def test_a_storm_of_worker_kills_or_stops_during_a_drain_loses_no_accepted_job(
    signum: int,
) -> None:
    # Given a queue of 10 ms jobs kept full, When the worker is killed (or stopped) 4 times
    # (the CLI's storms run hundreds of rounds: docs/reliability.md)
    # (a 3 s visibility timeout: a killed worker's jobs come back within seconds)
    storm = Storm(rounds=4, signum=signum, consume_s=(0.2, 1.0), visibility_timeout_s=3.0, seed=3)
    report = run_storm("storm", storm)
    # Then every accepted job completed; duplicates are counted, not lost
    assert report.accepted >= 200
    assert report.lost == 0 and report.completed == report.accepted, report
