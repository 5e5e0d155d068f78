"""The autoscaler scales a real local stack's workers up during a burst and back down after it;
replicas removed with SIGTERM finish their jobs, so nothing is lost."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from burstlab.autoscale import AutoscalePolicy
from burstlab.autoscale.replicas import GunicornReplicas, LocalWorkerReplicas
from burstlab.autoscale.scaler import DESIRED_METRIC, Autoscaler, AutoscalerMetrics, queue_metric
from burstlab.client import Producer
from burstlab.jobs.record import FINAL_STATUSES
from burstlab.stack.local import LocalStack, StackConfig

POLICY = AutoscalePolicy(
    min_replicas=1,
    max_replicas=3,
    target_backlog_per_replica=4,
    polling_interval_s=0.5,
    scale_up_stabilization_s=0,
    scale_down_stabilization_s=2,
    scale_up_max_step=2,
    scale_down_max_step=2,
    step_period_s=1,
    replica_concurrency=1,
    metric="queued",
)


@pytest.fixture
def small_stack(tmp_path: Path) -> Iterator[LocalStack]:
    with LocalStack(StackConfig(workers=1, baseline_workers=1, run_dir=tmp_path)) as stack:
        yield stack


def _eventually(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_the_local_scaler_adds_replicas_in_a_burst_and_removes_them_after_losing_nothing(
    small_stack: LocalStack,
) -> None:
    # Given one worker replica of one process and an autoscaler on the queue length
    producer = Producer(small_stack.producer_url)
    replicas = LocalWorkerReplicas(
        redis_url=small_stack.redis_url,
        env=dict(small_stack.worker.env),
        run_dir=small_stack.run_dir,
        concurrency=1,
    )
    registry = CollectorRegistry()
    scaler = Autoscaler(
        POLICY,
        queue_metric(producer, "async", POLICY.metric),
        replicas,
        metrics=AutoscalerMetrics(registry),
    ).start()
    try:
        # When a burst of 1 s jobs arrives, far more than one process can run soon
        ids = [producer.submit("async", "io", 1000)["job_id"] for _ in range(24)]
        # Then the scaler asks for more replicas and a started one answers a ping
        assert _eventually(lambda: replicas.requested() >= 2, 30), scaler.timeline[-3:]
        assert _eventually(lambda: replicas.ready() >= 2, 60), "no added replica became ready"
        assert replicas.start_times_s and all(0 < s < 60 for s in replicas.start_times_s)
        desired = registry.get_sample_value(DESIRED_METRIC, {"target": "worker"})
        assert desired is not None and desired >= 2
        # And once the queue is empty it removes them again (some still running a job)
        assert _eventually(lambda: replicas.requested() == 1, 90), scaler.timeline[-3:]
    finally:
        scaler.stop()
        replicas.close()
    # And every job finished exactly once: SIGTERM let the removed replicas finish theirs
    deadline = time.monotonic() + 60
    views = producer.lookup(ids)
    while time.monotonic() < deadline and any(
        v.get("status") not in FINAL_STATUSES for v in views.values()
    ):
        time.sleep(0.5)
        views = producer.lookup(ids)
    assert [v["status"] for v in views.values()] == ["succeeded"] * len(ids)
    assert all(int(v.get("attempts") or 1) == 1 for v in views.values())
    assert all(int(v.get("duplicates") or 0) == 0 for v in views.values())
    ups = [p for p in scaler.timeline if p.desired > 1]
    assert ups and ups[0].metric > POLICY.target_backlog_per_replica


def test_the_sync_side_adds_and_removes_gunicorn_workers_by_signal(
    small_stack: LocalStack,
) -> None:
    # Given the baseline's gunicorn master with one sync worker, one worker per replica
    master = small_stack.baseline.pid
    assert master is not None
    replicas = GunicornReplicas(master, concurrency=1, initial=1, start_delay_s=0.5)
    assert _eventually(lambda: replicas.ready() == 1, 30)
    # When the autoscaler asks for 3 replicas, gunicorn gets SIGTTIN twice (after the start
    # delay) and forks two more, and the time it took is measured
    replicas.scale(3)
    assert replicas.requested() == 3 and replicas.ready() == 1
    assert _eventually(lambda: replicas.ready() == 3, 60), replicas.ready()
    assert _eventually(lambda: len(replicas.start_times_s) == 1, 30)
    assert 0 < replicas.start_times_s[0] < 30
    # And back to 1: SIGTTOU twice retires the two oldest gracefully
    replicas.scale(1)
    assert _eventually(lambda: replicas.ready() == 1, 60), replicas.ready()
    # And a scale-down while a scale-up still waits for its start delay cancels what it can:
    # 1 -> 3 -> 2 starts one worker, not two
    replicas.start_delay_s = 2.0
    replicas.scale(3)
    replicas.scale(2)
    assert _eventually(lambda: replicas.ready() == 2, 60), replicas.ready()
    time.sleep(3.0)
    assert replicas.ready() == 2
    # And the baseline still serves a sync job through the producer
    answer = Producer(small_stack.producer_url).run("sync", "io", 10)
    assert answer["status"] == "succeeded"
