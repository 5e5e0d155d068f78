"""Request handlers: submit a job, read its status, health and readiness."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from burstlab.jobs.names import MAX_LOOKUP_IDS, job_key
from burstlab.jobs.payloads import Payload
from burstlab.jobs.record import (
    ATTEMPTS,
    FINAL_STATUSES,
    QUEUED,
    WORKER,
    accepted_fields,
    finished_fields,
    flat,
    job_view,
)
from burstlab.jobs.spec import MODES, TASK_KIND, JobSpec, ValidationError, parse_submission
from burstlab.jobs.task_message import new_id, task_kwargs, task_message
from producer import keys
from producer.backends.baseline_client import BaselineUnavailable
from producer.backends.publisher import BrokerUnavailable, Enqueue, reason
from producer.backends.queues import READ_ERRORS
from producer.backends.store import read_record, read_records, record_commands
from producer.bodies import read_json
from producer.config import ProducerConfig
from producer.errors import ApiError, json_response, retry_after
from producer.metrics import ProducerMetrics
from producer.target import post_to_endpoint

MAX_JOB_ID_LENGTH = 64


def _validation_error(exc: ValidationError) -> ApiError:
    extra = {"field": exc.field} if exc.field else None
    return ApiError(400, exc.code, exc.detail, extra=extra)


async def submit_job(request: web.Request) -> web.Response:
    """``POST /jobs``: run a job sync (200 with its result) or async (202, queued)."""
    submitted_at = time.time()
    body = await read_json(request)
    metrics = request.app[keys.METRICS]
    try:
        mode, spec = parse_submission(body)
    except ValidationError as exc:
        claimed = body.get("mode") if isinstance(body, dict) else None
        if claimed in MODES:
            request[keys.JOB_MODE] = claimed
            metrics.job_submitted(claimed)
            metrics.job_rejected(claimed, "invalid")
        raise _validation_error(exc) from exc
    request[keys.JOB_MODE] = mode
    metrics.job_submitted(mode)
    job_id = new_id()
    payload = "x" * spec.payload_bytes
    call = _task_call(request, mode, spec)
    if mode == "async":
        return await _submit_async(request, job_id, spec, payload, submitted_at, call)
    return await _submit_sync(request, job_id, spec, payload, submitted_at, call)


def _task_call(request: web.Request, mode: str, spec: JobSpec) -> Payload | None:
    """The payload a ``task`` job runs (its ``payload_line``, else the target's next one); None
    for burstlab's own jobs."""
    if spec.kind != TASK_KIND:
        return None
    target = request.app[keys.TARGET]
    if target is None:
        request.app[keys.METRICS].job_rejected(mode, "invalid")
        raise ApiError(
            400,
            "no_task_target",
            "kind 'task' runs a user's Celery task, and this stack was started without one "
            "(burstlab run --app MODULE:ATTR --task NAME --payloads FILE)",
            extra={"field": "kind"},
        )
    try:
        return target.take(spec.payload_line)
    except IndexError:
        request.app[keys.METRICS].job_rejected(mode, "invalid")
        raise ApiError(
            400,
            "out_of_range",
            f"field 'payload_line' must be below the target's {len(target)} payload lines, "
            f"got {spec.payload_line}",
            extra={"field": "payload_line"},
        ) from None


async def _submit_async(
    request: web.Request,
    job_id: str,
    spec: JobSpec,
    payload: str,
    submitted_at: float,
    call: Payload | None,
) -> web.Response:
    app = request.app
    config = app[keys.CONFIG]
    enqueued_at = time.time()
    target = app[keys.TARGET]
    if call is not None and target is not None:
        # The user's own message: their task name and arguments; the job id is the task id.
        message = task_message(
            job_id, call.kwargs, args=call.args, task_name=target.task, own_result_setting=True
        )
    else:
        message = task_message(job_id, task_kwargs(job_id, spec, enqueued_at, payload))
    fields = flat(accepted_fields("async", spec, submitted_at, enqueued_at))
    job = Enqueue(key=job_key(job_id), fields=fields, task=message)
    metrics = app[keys.METRICS]
    # Kept here, not sent to the worker: its final event is timed against these.
    # Tracked before the push: a fast worker's final event may come first.
    metrics.track_async(job_id, submitted_at, enqueued_at)
    try:
        accepted = await app[keys.PUBLISHER].enqueue(job)
    except (BrokerUnavailable, TimeoutError) as exc:
        metrics.untrack_async(job_id)
        metrics.job_rejected("async", "broker_unavailable")
        raise ApiError(
            503,
            "broker_unavailable",
            "the job was not accepted: " + (str(exc) or "the broker did not answer in time"),
            headers=retry_after(),
        ) from exc
    if not accepted:
        metrics.untrack_async(job_id)
        metrics.job_rejected("async", "backlog_full")
        raise ApiError(
            429,
            "backlog_full",
            f"the queue holds its maximum of {config.max_backlog} waiting jobs; "
            "retry after it drains",
            headers=retry_after(),
        )
    status_url = f"/jobs/{job_id}"
    return json_response(
        {"job_id": job_id, "mode": "async", "status": QUEUED, "status_url": status_url},
        status=202,
        headers={"Location": status_url},
    )


async def _submit_sync(
    request: web.Request,
    job_id: str,
    spec: JobSpec,
    payload: str,
    submitted_at: float,
    call: Payload | None,
) -> web.Response:
    app = request.app
    metrics = app[keys.METRICS]
    enqueued_at = time.time()  # waiting for a slot is queueing too, as in the async queue
    slots = app[keys.SYNC_SLOTS]
    if slots is not None:
        await _take_sync_slot(slots, app[keys.CONFIG], metrics)
    metrics.sync.in_flight += 1  # no await since the slot was taken: never counted twice
    try:
        target = app[keys.TARGET]
        if call is not None and target is not None and target.target.sync_url:
            reply = await post_to_endpoint(
                app[keys.HTTP_SESSION],
                target.target.sync_url,
                call,
                app[keys.CONFIG].sync_timeout_s,
            )
        else:
            reply = await app[keys.BASELINE].run(spec, payload, call)
    except BaselineUnavailable as exc:
        metrics.job_rejected("sync", exc.code)
        raise ApiError(503, exc.code, exc.detail, headers=retry_after()) from exc
    finally:
        metrics.sync.in_flight -= 1
        if slots is not None:
            slots.release()
    metrics.job_finished(
        "sync", reply.status, submitted_at, enqueued_at, reply.started_at, reply.finished_at
    )
    record = {
        **accepted_fields("sync", spec, submitted_at, enqueued_at),
        **finished_fields(
            reply.status,
            reply.finished_at,
            started_at=reply.started_at,
            result=reply.result,
            error=reply.error,
        ),
        ATTEMPTS: "1",
    }
    if reply.worker is not None:
        record[WORKER] = reply.worker
    app[keys.PUBLISHER].submit_background(record_commands(job_id, record))
    timings = {
        "submitted_at": submitted_at,
        "enqueued_at": enqueued_at,
        "started_at": reply.started_at,
        "finished_at": reply.finished_at,
    }
    body: dict[str, Any] = {
        "job_id": job_id,
        "mode": "sync",
        "status": reply.status,
        "result": reply.result,
        "timings": timings,
    }
    if reply.error is not None:
        body["error"] = reply.error  # the job ran and raised: its outcome, not an HTTP error
    if reply.worker is not None:
        body["worker"] = reply.worker
    return json_response(body)


async def _take_sync_slot(
    slots: asyncio.Semaphore, config: ProducerConfig, metrics: ProducerMetrics
) -> None:
    """Wait (first come, first served) for one of the sync forwarding slots, or shed the job."""
    if not slots.locked():
        await slots.acquire()
        return
    metrics.sync.waiting += 1
    try:
        await asyncio.wait_for(slots.acquire(), config.sync_queue_timeout_s)
    except TimeoutError:
        metrics.job_rejected("sync", "overloaded")
        raise ApiError(
            503,
            "overloaded",
            f"the job was not run: {config.sync_max_inflight} sync jobs are in progress and "
            f"no slot freed within {config.sync_queue_timeout_s:g} s; retry later",
            headers=retry_after(),
        ) from None
    finally:
        metrics.sync.waiting -= 1


def _wait_seconds(request: web.Request, limit: float) -> float:
    raw = request.query.get("wait")
    if raw is None:
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        wait = float("nan")
    if not 0 <= wait <= limit:  # also rejects NaN
        raise ApiError(
            400,
            "invalid_query",
            f"'wait' must be a number of seconds from 0 to {limit:g}, got {raw[:40]!r}",
        )
    return wait


async def get_job(request: web.Request) -> web.Response:
    """``GET /jobs/{job_id}[?wait=S]``: the job's status; long-polls until final or S passes."""
    app = request.app
    job_id = request.match_info["job_id"]
    wait = _wait_seconds(request, app[keys.CONFIG].max_wait_s)
    if len(job_id) > MAX_JOB_ID_LENGTH:
        raise ApiError(404, "job_not_found", "no job with that id")
    events = app[keys.EVENTS]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        with events.waiter(job_id) as changed:
            try:
                record = await read_record(app[keys.REDIS], job_id)
            except (RedisError, OSError) as exc:
                raise ApiError(503, "broker_unavailable", f"cannot read job status: {exc}") from exc
            if record is None:
                raise ApiError(404, "job_not_found", f"no job with id {job_id!r}")
            remaining = deadline - loop.time()
            if record.get("status") in FINAL_STATUSES or remaining <= 0:
                return json_response(job_view(job_id, record))
            # Without a live subscription, fall back to re-reading once a second.
            step = remaining if events.connected.is_set() else min(remaining, 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed, step)


async def lookup_jobs(request: web.Request) -> web.Response:
    """``POST /jobs/lookup`` ``{"job_ids": [...]}``: many jobs' status in one request.

    Made for collecting a run's timings afterwards without one request per job.
    """
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) != {"job_ids"}:
        raise ApiError(400, "invalid_body", 'the body must be {"job_ids": [id, ...]}')
    job_ids = body["job_ids"]
    if not isinstance(job_ids, list) or not all(isinstance(i, str) for i in job_ids):
        raise ApiError(
            400,
            "invalid_type",
            "field 'job_ids' must be an array of strings",
            extra={"field": "job_ids"},
        )
    if len(job_ids) > MAX_LOOKUP_IDS:
        raise ApiError(
            400,
            "out_of_range",
            f"field 'job_ids' may hold at most {MAX_LOOKUP_IDS} ids, got {len(job_ids)}",
            extra={"field": "job_ids"},
        )
    wanted = [i for i in dict.fromkeys(job_ids) if len(i) <= MAX_JOB_ID_LENGTH]
    try:
        records = await read_records(request.app[keys.REDIS], wanted) if wanted else {}
    except (RedisError, OSError) as exc:
        raise ApiError(503, "broker_unavailable", f"cannot read job status: {exc}") from exc
    found = [job_view(i, r) for i, r in records.items() if r is not None]
    missing = [i for i in dict.fromkeys(job_ids) if records.get(i) is None]
    return json_response({"jobs": found, "missing": missing})


async def queue_status(request: web.Request) -> web.Response:
    """``GET /queue``: async jobs queued in the broker, reserved and finished; sync jobs held here.

    ``sync`` is this producer's own count: jobs waiting for a forwarding slot and in flight.
    """
    app = request.app
    try:
        depth = await asyncio.wait_for(app[keys.QUEUE].depth(), app[keys.CONFIG].broker_timeout_s)
    except READ_ERRORS as exc:
        raise ApiError(503, "broker_unavailable", f"cannot read the queue: {exc}") from exc
    return json_response({**depth, "sync": app[keys.METRICS].sync.view()})


async def healthz(_request: web.Request) -> web.Response:
    """``GET /healthz``: the process is alive."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """``GET /readyz``: the broker and the baseline are reachable, else 503 naming which."""
    app = request.app
    timeout = app[keys.CONFIG].broker_timeout_s

    async def broker() -> str | None:
        try:
            await asyncio.wait_for(app[keys.QUEUE].ping(), timeout)
            return None
        except READ_ERRORS as exc:
            return f"unreachable: {reason(exc)}"

    broker_problem, baseline_problem = await asyncio.gather(broker(), app[keys.BASELINE].check())
    checks: dict[str, Any] = {
        "broker": broker_problem or "ok",
        "baseline": baseline_problem or "ok",
    }
    down = [
        name
        for name, problem in (("broker", broker_problem), ("baseline", baseline_problem))
        if problem
    ]
    if down:
        raise ApiError(
            503,
            "not_ready",
            "; ".join(f"{name} {checks[name]}" for name in down),
            extra={"checks": checks},
        )
    return json_response({"status": "ready", "checks": checks})
