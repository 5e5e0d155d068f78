"""The producer client, blocking and asyncio, against a real local stack."""

from __future__ import annotations

import orjson
import pytest

from burstlab.client import Producer, ProducerClient, ProducerError, ProducerUnreachable
from burstlab.jobs.names import MAX_LOOKUP_IDS
from burstlab.stack.local import LocalStack


def test_the_blocking_client_runs_a_sync_job_and_waits_for_an_async_one(stack: LocalStack) -> None:
    producer = Producer(stack.producer_url)
    # When a sync job is submitted, Then it has run when the answer comes
    sync = producer.submit("sync", "io", 5)
    assert sync["status"] == "succeeded" and sync["mode"] == "sync"
    assert sync["timings"]["finished_at"] >= sync["timings"]["started_at"]
    # When an async job is submitted, Then it is queued, and waiting for it returns it final
    queued = producer.submit("async", "io", 5)
    assert queued["status"] == "queued"
    done = producer.wait(queued["job_id"], timeout_s=20)
    assert done["status"] == "succeeded" and done["job_id"] == queued["job_id"]
    assert done["timings"]["finished_at"] >= done["timings"]["enqueued_at"]


async def test_the_asyncio_client_runs_jobs_of_both_modes_to_their_final_status(
    stack: LocalStack,
) -> None:
    async with ProducerClient(stack.producer_url) as client:
        # When a job of each mode is run (submitted, and waited for if queued)
        sync = await client.run("sync", "cpu", 5)
        done = await client.run("async", "cpu", 5, timeout_s=20)
        # Then both come back succeeded with the worker's result
        assert (sync["mode"], sync["status"]) == ("sync", "succeeded")
        assert (done["mode"], done["status"]) == ("async", "succeeded")
        assert done["result"]["kind"] == "cpu" and done["attempts"] == 1
        # And a single long poll on a finished job answers at once with the same view
        assert (await client.get_job(done["job_id"], wait_s=5))["status"] == "succeeded"


async def test_a_lookup_of_more_ids_than_the_producer_allows_is_sent_in_chunks(
    stack: LocalStack,
) -> None:
    async with ProducerClient(stack.producer_url) as client:
        # Given two finished jobs, asked for behind more unknown ids than one request may hold
        jobs = [await client.run("async", "io", 1, timeout_s=20) for _ in range(2)]
        unknown = [f"unknown-{i}" for i in range(MAX_LOOKUP_IDS + 200)]
        ids = [*unknown, *(job["job_id"] for job in jobs)]
        # When one lookup of them all is sent in one request, Then the producer refuses it
        with pytest.raises(ProducerError) as refused:
            await client.request("POST", "/jobs/lookup", orjson.dumps({"job_ids": ids}))
        assert (refused.value.status, refused.value.error) == (400, "out_of_range")
        # When the client looks them up, Then it finds both jobs and nothing else
        found = await client.lookup(ids)
        blocking = Producer(stack.producer_url).lookup(ids)
    assert set(found) == set(blocking) == {job["job_id"] for job in jobs}
    assert all(view["status"] == "succeeded" for view in found.values())


async def test_a_refused_request_raises_one_error_with_the_producers_status_code_and_detail(
    stack: LocalStack,
) -> None:
    producer = Producer(stack.producer_url)
    async with ProducerClient(stack.producer_url) as client:
        # When a job out of range is submitted through either client
        with pytest.raises(ProducerError) as blocking:
            producer.submit("sync", "io", -5)
        with pytest.raises(ProducerError) as asyncio_:
            await client.submit("sync", "io", -5)
        # And an unknown job is read
        with pytest.raises(ProducerError) as missing:
            await client.get_job("no-such-job")
    # Then each error carries the producer's status, code, detail and field
    for error in (blocking.value, asyncio_.value):
        assert (error.status, error.error, error.field) == (400, "out_of_range", "duration_ms")
        assert "duration_ms" in error.detail
    assert (missing.value.status, missing.value.error) == (404, "job_not_found")
    assert not isinstance(missing.value, ProducerUnreachable)


async def test_a_producer_that_does_not_answer_raises_unreachable(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    # When nothing listens at the producer's address, Then both clients say so with status 0
    with pytest.raises(ProducerUnreachable) as blocking:
        Producer(url, timeout_s=2).queue()
    async with ProducerClient(url, timeout_s=2) as client:
        with pytest.raises(ProducerUnreachable) as asyncio_:
            await client.queue()
        assert not await client.ready()
    assert blocking.value.status == asyncio_.value.status == 0


async def test_the_experiment_phase_is_set_read_and_cleared(stack: LocalStack) -> None:
    producer = Producer(stack.producer_url)
    async with ProducerClient(stack.producer_url) as client:
        # When a runner announces a burst, Then the producer reports that context
        await client.set_phase(scenario="client-test", mode="async", workers=4, phase="burst")
        context = producer.experiment()
        # When a label is not a bounded name, Then it is refused before any request is sent
        with pytest.raises(ValueError):
            producer.set_phase(scenario="a b", mode="async", workers=4, phase="burst")
        # When the phase is cleared, Then no context is left
        producer.clear_phase()
        assert await client.experiment() is None
    assert context == {"scenario": "client-test", "mode": "async", "workers": 4, "phase": "burst"}


def test_the_queue_and_readiness_are_read(stack: LocalStack) -> None:
    producer = Producer(stack.producer_url)
    # When the queue is read, Then it reports each count, and the producer is ready
    depth = producer.queue()
    assert set(depth) >= {"queued", "reserved", "backlog", "finished_total"}
    assert depth["backlog"] == depth["queued"] + depth["reserved"]
    assert depth["sync"]["backlog"] == depth["sync"]["waiting"] + depth["sync"]["in_flight"]
    assert producer.ready()
