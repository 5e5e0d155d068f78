"""Choosing the broker: one URL decides, both services declare the queue alike."""

from __future__ import annotations

import pytest
from celery import Celery
from kombu import Queue

from burstlab.jobs.names import TASK_NAME
from burstlab.jobs.task_message import task_message
from burstlab.settings import broker_of, queue_arguments
from producer.backends.amqp_broker import amqp_message, management_queue_url
from producer.backends.publisher import Enqueue
from producer.config import ProducerConfig
from workers.app import RELIABLE_TRANSPORT, celery_settings
from workers.config import WorkerConfig

AMQP = "amqp://burstlab:PASSWORD@127.0.0.1:5672/"


def _queue_as_celery_declares_it(config: WorkerConfig) -> Queue:
    """The default queue a Celery app with the workers' settings consumes from."""
    app = Celery("burstlab-test", broker=config.broker, set_as_current=False)
    try:
        app.conf.update(celery_settings(config))
        assert app.conf.broker_url == config.broker
        return app.amqp.queues[config.queue]
    finally:
        app.close()


@pytest.mark.parametrize(
    ("url", "broker"),
    [
        ("redis://127.0.0.1:6379/0", "redis"),
        ("rediss://host:6380/0", "redis"),
        (AMQP, "rabbitmq"),
        ("amqps://host/", "rabbitmq"),
        ("pyamqp://host//", "rabbitmq"),
    ],
)
def test_the_url_scheme_names_the_broker(url: str, broker: str) -> None:
    assert broker_of(url) == broker


def test_without_broker_url_both_services_queue_on_their_redis_as_before() -> None:
    env = {"REDIS_URL": "redis://127.0.0.1:6390/0", "BROKER_URL": ""}
    producer, worker = ProducerConfig.from_env(env), WorkerConfig.from_env(env)
    assert producer.broker == "redis" and producer.broker_url is None
    assert worker.broker == "redis://127.0.0.1:6390/0" and worker.on_redis
    assert celery_settings(worker)["broker_transport"] == RELIABLE_TRANSPORT


def test_an_amqp_broker_url_moves_the_queue_and_leaves_records_in_redis() -> None:
    # Given BROKER_URL naming a RabbitMQ and a quorum queue
    env = {"REDIS_URL": "redis://127.0.0.1:6390/0", "BROKER_URL": AMQP, "QUEUE_TYPE": "quorum"}
    producer, worker = ProducerConfig.from_env(env), WorkerConfig.from_env(env)
    # Then both services use it for the queue, Redis still for records
    assert producer.broker == "rabbitmq" and producer.redis_url.startswith("redis://")
    assert worker.broker == AMQP
    # And the worker uses kombu's AMQP transport (the reliable fetch is for Redis only)
    settings = celery_settings(worker)
    assert settings["broker_transport"] is None
    # And declares the queue with the arguments the producer declares it with
    assert settings["task_default_queue_type"] == "quorum"
    queue = _queue_as_celery_declares_it(worker)
    assert queue.queue_arguments == queue_arguments(producer.queue_type)
    assert queue.durable and not queue.auto_delete


def test_a_classic_queue_is_declared_without_arguments_as_celery_declares_it() -> None:
    queue = _queue_as_celery_declares_it(WorkerConfig(broker_url=AMQP))
    assert queue.queue_arguments is None
    assert queue_arguments("classic") is None


def test_an_unknown_queue_type_is_refused() -> None:
    with pytest.raises(ValueError, match="QUEUE_TYPE must be one of classic, quorum"):
        ProducerConfig.from_env({"QUEUE_TYPE": "stream"})


def test_the_amqp_message_carries_celerys_protocol_2_headers_and_a_persistent_body() -> None:
    task = task_message("id-1", {"job_id": "id-1", "enqueued_at": 1.5})
    message = amqp_message(Enqueue(key="k", fields=(), task=task))
    assert message.headers["task"] == TASK_NAME and message.headers["id"] == "id-1"
    assert message.correlation_id == "id-1"
    assert message.content_type == "application/json" and message.content_encoding == "utf-8"
    assert message.delivery_mode == 2
    assert message.body == task.body


def test_the_management_url_of_the_queue_quotes_the_virtual_host() -> None:
    assert (
        management_queue_url("http://h:15672/", AMQP, "burstlab")
        == "http://h:15672/api/queues/%2F/burstlab"
    )
    assert (
        management_queue_url("http://h:15672", "amqp://u:p@h:5672/lab", "q")
        == "http://h:15672/api/queues/lab/q"
    )
