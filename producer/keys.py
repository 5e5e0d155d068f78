"""Typed application keys: the producer's shared state, declared in one place."""

from __future__ import annotations

import asyncio

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

from producer.backends.baseline_client import BaselineClient
from producer.backends.events import JobEvents
from producer.backends.publisher import JobPublisher
from producer.backends.queues import QueueReader
from producer.config import ProducerConfig
from producer.metrics import ProducerMetrics
from producer.target import TaskPayloads

CONFIG = web.AppKey("config", ProducerConfig)
REDIS = web.AppKey("redis", aioredis.Redis)
PUBLISHER: web.AppKey[JobPublisher] = web.AppKey("publisher")
QUEUE: web.AppKey[QueueReader] = web.AppKey("queue")
"""The async queue on whichever broker holds it (``GET /queue``, the scrape, ``/readyz``)."""
EVENTS = web.AppKey("events", JobEvents)
BASELINE = web.AppKey("baseline", BaselineClient)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
METRICS = web.AppKey("metrics", ProducerMetrics)
SYNC_SLOTS: web.AppKey[asyncio.Semaphore | None] = web.AppKey("sync_slots")
"""Sync jobs forwarded at once (``sync_max_inflight``); ``None`` when unlimited."""

TARGET: web.AppKey[TaskPayloads | None] = web.AppKey("target")
"""The user's task and its payloads when the stack measures one (``TARGET_TASK``), else None."""

JOB_MODE = web.RequestKey("job_mode", str)
"""Set by ``POST /jobs`` once the mode is known, so the request is counted under it."""
