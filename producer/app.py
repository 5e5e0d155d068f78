"""The producer's app factory: resources opened and closed in ``cleanup_ctx``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import redis.asyncio as aioredis
import uvloop
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from prometheus_client import CollectorRegistry, disable_created_metrics

from burstlab.jobs.record import RECORD_TTL_S
from burstlab.telemetry.exposition import MetricsServer
from producer import keys
from producer.backends.amqp_broker import AmqpBroker
from producer.backends.baseline_client import BaselineClient
from producer.backends.events import JobEvents
from producer.backends.publisher import JobPublisher, Publisher
from producer.backends.queues import QueueReader, RedisQueue
from producer.backends.redis_connection import redis_client
from producer.config import ProducerConfig
from producer.instrumentation import loop_lag_ctx, queue_gauges_ctx
from producer.metrics import ProducerMetrics
from producer.routes import setup_routes
from producer.target import TaskPayloads


def _broker(config: ProducerConfig, client: aioredis.Redis) -> tuple[JobPublisher, QueueReader]:
    """The publisher and queue reader of the configured broker (Redis unless ``BROKER_URL``
    names a RabbitMQ)."""
    on_redis = Publisher(
        client,
        config.broker_timeout_s,
        queue=config.queue,
        max_backlog=config.max_backlog,
        record_ttl_s=RECORD_TTL_S,
    )
    if config.broker == "redis":
        return on_redis, RedisQueue(client, config.queue)
    amqp = AmqpBroker(
        config.broker_url or "",
        on_redis,
        client,
        config.broker_timeout_s,
        queue=config.queue,
        queue_type=config.queue_type,
        max_backlog=config.max_backlog,
        record_ttl_s=RECORD_TTL_S,
        management_url=config.rabbitmq_management_url,
    )
    return amqp, amqp


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    client = redis_client(config.redis_url, config.broker_timeout_s)
    events_client = redis_client(config.redis_url, config.broker_timeout_s, for_pubsub=True)
    publisher, queue = _broker(config, client)
    events = JobEvents(events_client, on_final=app[keys.METRICS].on_final_event)
    app[keys.REDIS] = client
    app[keys.PUBLISHER] = publisher
    app[keys.QUEUE] = queue
    app[keys.EVENTS] = events
    publisher.start()
    events.start()
    try:
        yield
    finally:
        await events.close()
        await publisher.close()
        await events_client.aclose(close_connection_pool=True)
        await client.aclose(close_connection_pool=True)


async def _http_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    connector = aiohttp.TCPConnector(limit=config.sync_max_connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        app[keys.HTTP_SESSION] = session
        app[keys.BASELINE] = BaselineClient(
            session, config.baseline_url, config.sync_timeout_s, config.sync_connect_timeout_s
        )
        yield


def create_app(
    config: ProducerConfig, registry: CollectorRegistry | None = None
) -> web.Application:
    """Build the producer application for ``config``; its metrics go to ``registry``.

    Without a registry the app gets a fresh one of its own (served at ``GET /metrics``).
    """
    metrics = ProducerMetrics(registry if registry is not None else CollectorRegistry())
    app = web.Application(client_max_size=config.max_body_bytes)
    app[keys.CONFIG] = config
    app[keys.METRICS] = metrics
    slots = config.sync_max_inflight
    app[keys.SYNC_SLOTS] = asyncio.Semaphore(slots) if slots else None
    # A bad payloads file stops the producer here, at start-up, with the line it could not read.
    app[keys.TARGET] = TaskPayloads(config.target) if config.target is not None else None
    app.cleanup_ctx.append(_redis_ctx)
    app.cleanup_ctx.append(_http_ctx)
    if config.metrics_enabled:
        app.cleanup_ctx.append(loop_lag_ctx)
        app.cleanup_ctx.append(queue_gauges_ctx)
    setup_routes(app)
    return app


MAX_REQUEST_LINE_BYTES = 64 * 1024
"""Request lines and header fields up to this size reach the app (and get its JSON errors);
aiohttp's own limit, 8 KiB, answers a longer URL with a plain-text 400 before the app sees it."""


class _QuietBadRequests(logging.Filter):
    """aiohttp logs a malformed request (a line too long, a broken header) it answered 400 with a
    traceback; one line is enough: it is the client's error, not the server's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], BadHttpMessage):
            record.msg = f"bad request refused with 400: {record.exc_info[1]}"
            record.args = ()
            record.exc_info = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def run_producer(config: ProducerConfig) -> None:
    """Serve the producer until interrupted (and its metrics on their own port, if set)."""
    disable_created_metrics()  # a *_created series per counter is noise Prometheus does not need
    app = create_app(config)
    server = None
    if config.metrics_enabled and config.metrics_port is not None:
        server = MetricsServer(config.host, config.metrics_port, app[keys.METRICS].registry)
    logging.getLogger("aiohttp.server").addFilter(_QuietBadRequests())
    try:
        web.run_app(
            app,
            max_line_size=MAX_REQUEST_LINE_BYTES,
            max_field_size=MAX_REQUEST_LINE_BYTES,
            host=config.host,
            port=config.port,
            access_log=None,
            print=None,
            backlog=2048,
            loop=uvloop.new_event_loop(),
        )
    finally:
        if server is not None:
            server.shutdown()
