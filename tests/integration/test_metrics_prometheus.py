"""A real Prometheus scraping the local stack through a burst, a stall and a recovery.

One scenario runs once for the module, stopping at three checkpoints where every PromQL
expression of the dashboards and rule files is evaluated through Prometheus' HTTP API:

- burst: 40 sync and 40 async jobs (and a few invalid ones) have run and been scraped;
- stalled: the workers are stopped and 30 more async jobs wait in the queue;
- recovered: the workers are back and have run the 30 jobs, each after a long wait;
- swept: a tiny sweep (sweep-io, rho 0.3 and 0.7, 4 s steps, async) announced each step
  through the experiment context: the per-step rules had values during it, and the dashboard's
  sweep panels read one point per step after it.
"""

from __future__ import annotations

import asyncio
import math
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from burstlab.client import Producer
from burstlab.dashboards.files import (
    DASHBOARDS_DIR,
    Query,
    dashboard_paths,
    dashboard_queries,
    load_dashboard,
    metric_names,
    panels,
    recorded_names,
    rule_queries,
)
from burstlab.dashboards.sweep import CAPACITY_PANEL, LATENCY_CURVE_PANEL
from burstlab.experiments.loadgen.probe import service_probe
from burstlab.experiments.loadgen.progress import ProgressDisplay
from burstlab.experiments.sweep.run import override_sweep, run_sweep_mode
from burstlab.scenario.spec import load_scenario
from burstlab.stack.local import LocalStack, StackConfig
from burstlab.telemetry.prometheus_api import PrometheusClient, sample_values

pytestmark = pytest.mark.slow

WORKERS = 4
BURST = 40
STALLED = 30
SLO_S = 10.0
JOB_MS = 50
STALLED_JOB_MS = 500
"""4 workers drain the 30 stalled jobs in about 4 s."""
WAVE_GAP_S = 6
PROMETHEUS_NAMES = {"up", "scrape_duration_seconds", "ALERTS"}
"""Series Prometheus makes itself."""
ALERT_STATE_QUERY = "count by (alertname, alertstate) (ALERTS)"
"""The one dashboard query with data only while an alert is pending or firing."""
DASHBOARD_QUERIES = [q for path in dashboard_paths() for q in dashboard_queries(path)]
RULE_QUERIES = rule_queries()
ALERTS = {q.source.split(": ", 1)[1]: q for q in RULE_QUERIES if q.alert}
PER_STEP = [q for q in DASHBOARD_QUERIES + RULE_QUERIES if q.per_step]
"""Queries with data only during a sweep step (rules, live panels) or after one (instant ones)."""
SWEEP_RHO = (0.3, 0.7)
SWEEP_STEP_S = 4.0
SWEEP_MODES = ("async",)
"""One mode keeps the module short; the panels group by mode like any other label."""
ALERT_CHECKPOINT = {
    "BurstlabWorkerDown": "stalled",
    "BurstlabNoWorkerUp": "stalled",
    "BurstlabBacklogGrowing": "stalled",
    "BurstlabQueueWaitOverSLO": "recovered",
}


@dataclass
class Checkpoint:
    """Every query's samples at one moment, and the alerts then pending or firing."""

    at: float
    samples: dict[str, list[dict[str, Any]]]
    alerts: dict[str, str]

    def finite(self, expr: str) -> list[float]:
        return [v for v in sample_values(self.samples[expr]) if math.isfinite(v)]


@dataclass
class Observed:
    """What the scenario saw."""

    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)
    exposed: set[str] = field(default_factory=set)
    values: dict[str, float] = field(default_factory=dict)
    queue_endpoint: dict[str, int] = field(default_factory=dict)
    scrape_seconds: dict[str, float] = field(default_factory=dict)
    sweep: list[dict[str, Any]] = field(default_factory=list)


def _scrape(url: str) -> dict[str, float]:
    """A ``/metrics`` page summed by sample name."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums


def _wait(check: Callable[[], bool], timeout_s: float, what: str, *, strict: bool = True) -> None:
    """Poll ``check``; past ``timeout_s`` fail (or, not strict, go on: the tests say what lacks)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            if not strict:
                return
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.5)


def _value(prometheus: PrometheusClient, expr: str) -> float | None:
    values = sample_values(prometheus.query(expr))
    return values[0] if len(values) == 1 else None


def _checkpoint(
    prometheus: PrometheusClient,
    queries: list[Query],
    at: float | None = None,
    alerts_at: float | None = None,
) -> Checkpoint:
    """Every query evaluated at one instant (default now), and the alerts active at
    ``alerts_at`` (default the same instant).

    The alerts come from Prometheus' own ``ALERTS`` series at that instant, not from the alerts
    active when the test asks: a pending alert whose 5 s window has passed is dropped at once.
    """
    at = time.time() if at is None else at
    alerts = {
        s["metric"]["alertname"]: s["metric"]["alertstate"]
        for s in prometheus.query("ALERTS", at=at if alerts_at is None else alerts_at)
    }
    samples = {q.expr: prometheus.query(q.expr, at=at) for q in queries}
    return Checkpoint(at, samples, alerts)


def _first_instant_all_finite(
    prometheus: PrometheusClient, queries: list[Query], start: float, end: float
) -> float | None:
    """The first instant of ``[start, end]`` (0.5 s steps) at which every query has a value.

    Rates and quantiles look back 5 s, so after a short burst each has a value for a few
    seconds only; a loaded machine may reach the checkpoint later than that.
    """
    common: set[float] | None = None
    for query in queries:
        instants = {
            float(t)
            for series in prometheus.query_range(query.expr, start, end, 0.5)
            for t, v in series["values"]
            if math.isfinite(float(v))
        }
        common = instants if common is None else common & instants
    return min(common) if common else None


def _alerts_active(prometheus: PrometheusClient, checkpoint: str) -> bool:
    """Whether every alert expected at ``checkpoint`` is pending or firing in Prometheus."""
    active = {a["labels"]["alertname"] for a in prometheus.alerts()}
    return active >= {name for name, when in ALERT_CHECKPOINT.items() if when == checkpoint}


def _first_alert_instant(
    prometheus: PrometheusClient, checkpoint: str, start: float, end: float
) -> float | None:
    """The first instant of ``[start, end]`` (0.5 s steps) at which every alert expected at
    ``checkpoint`` was pending or firing (Prometheus' ``ALERTS`` series) and its expression
    returned data.

    An alert on a 5 s rate is pending only while its window holds the slow jobs: a loaded
    machine may poll after it has gone, so the history is read rather than the present.
    """
    expected = {name for name, when in ALERT_CHECKPOINT.items() if when == checkpoint}
    instants: dict[str, set[float]] = {name: set() for name in expected}
    for series in prometheus.query_range("ALERTS", start, end, 0.5):
        name = series["metric"]["alertname"]
        if name in instants:
            instants[name] |= {float(t) for t, _ in series["values"]}
    common = set.intersection(*instants.values()) if instants else set()
    for at in sorted(common):  # and each alert's expression returns data there too
        if all(prometheus.query(ALERTS[name].expr, at=at) for name in expected):
            return at
    return None


async def _submit(url: str, jobs: list[dict[str, Any]]) -> list[int]:
    connector = aiohttp.TCPConnector(limit=len(jobs))
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def one(job: dict[str, Any]) -> int:
            async with session.post(f"{url}/jobs", json=job) as response:
                await response.read()
                return response.status

        return list(await asyncio.gather(*(one(job) for job in jobs)))


def _run_scenario(stack: LocalStack, prometheus: PrometheusClient) -> Observed:
    seen = Observed()
    every_query = DASHBOARD_QUERIES + RULE_QUERIES
    url = stack.producer_url
    producer = Producer(url, timeout_s=5)
    # Burst: both modes at once, plus invalid submissions (a rejection reason with data)
    producer.set_phase(scenario="metrics-check", mode="mixed", workers=WORKERS, phase="burst")
    io = {"kind": "io", "duration_ms": JOB_MS}
    jobs = [{"mode": "async", **io}] * BURST + [{"mode": "sync", **io}] * BURST
    invalid = [{"mode": "sync", "kind": "io", "duration_ms": -1}] * 2
    burst_started = math.floor(time.time())
    statuses = asyncio.run(_submit(url, jobs + invalid))
    assert statuses == [202] * BURST + [200] * BURST + [400] * 2
    _wait(
        lambda: (
            _value(prometheus, "sum(burstlab_worker_jobs_finished_total)") == BURST
            and _value(prometheus, "sum(burstlab_baseline_jobs_finished_total)") == BURST
            and _value(prometheus, "sum(burstlab_jobs_completed_total)") == 2 * BURST
        ),
        60,
        "Prometheus to scrape every finished job",
    )
    steady = [
        q for q in every_query if not q.alert and q.expr != ALERT_STATE_QUERY and not q.per_step
    ]
    time.sleep(2)  # a rule evaluation or two after the last scrape
    at = _first_instant_all_finite(prometheus, steady, burst_started, time.time())
    # The alerts once the burst has drained: a backlog rising during it may be pending then
    seen.checkpoints["burst"] = _checkpoint(prometheus, every_query, at, alerts_at=time.time())
    for name in ("worker_jobs_finished", "baseline_jobs_finished", "jobs_completed"):
        total = _value(prometheus, f"sum(burstlab_{name}_total)")
        seen.values[f"prometheus:{name}"] = -1 if total is None else total
    for job, metrics_url in stack.metrics_urls.items():
        scraped = _scrape(metrics_url)
        seen.exposed |= set(scraped)
        for name, value in scraped.items():
            seen.values[f"{job}:{name}"] = value
    for target in prometheus.targets():
        seen.scrape_seconds[target["labels"]["job"]] = float(target["lastScrapeDuration"])

    # Stall: no worker runs, async jobs pile up in two waves (the backlog grows across scrapes)
    producer.set_phase(scenario="metrics-check", mode="async", workers=0, phase="stall")
    stack.worker.stop()
    stalled_since = time.time()
    # Each stalled job runs long enough that the restarted worker's drain spans several scrapes:
    # a counter that a new process exposes already risen is not a rise to rate() (its first
    # sample is its baseline), so a drain finished before the first scrape would show nothing.
    slow = {"kind": "io", "duration_ms": STALLED_JOB_MS}
    wave = [{"mode": "async", **slow}] * (STALLED // 2)
    assert asyncio.run(_submit(url, wave)) == [202] * len(wave)
    time.sleep(WAVE_GAP_S)
    assert asyncio.run(_submit(url, wave)) == [202] * len(wave)
    _wait(  # the producer reads the queue every 0.5 s, in the background
        lambda: _scrape(stack.metrics_urls["producer"])["burstlab_async_backlog_jobs"] == STALLED,
        10,
        "the producer's queue gauges",
    )
    direct = _scrape(stack.metrics_urls["producer"])
    for name in ("burstlab_async_backlog_jobs", "burstlab_async_queued_jobs"):
        seen.values[f"stalled:{name}"] = direct[name]
    seen.values["stalled:reserved"] = direct["burstlab_async_reserved_jobs"]
    seen.values["stalled:oldest_age"] = direct["burstlab_async_oldest_queued_age_seconds"]
    seen.values["stalled:waited"] = time.time() - stalled_since
    seen.queue_endpoint = producer.queue()
    _wait(
        lambda: (
            _value(prometheus, "burstlab_async_backlog_jobs") == STALLED
            and _alerts_active(prometheus, "stalled")
        ),
        60,
        "the backlog and the worker alerts",
    )
    seen.values["stalled:prometheus_backlog"] = (
        _value(prometheus, "burstlab_async_backlog_jobs") or 0
    )
    seen.checkpoints["stalled"] = _checkpoint(prometheus, every_query)

    # Recovery: once both waves have waited past the SLO, the workers come back
    time.sleep(max(0.0, SLO_S + WAVE_GAP_S + 4 - (time.time() - stalled_since)))
    producer.set_phase(scenario="metrics-check", mode="async", workers=WORKERS, phase="drain")
    restarted = time.time()
    stack.worker.start()
    _wait(stack.worker_ready, 30, "the worker to be back")
    _wait(
        lambda: _value(prometheus, "sum(burstlab_worker_jobs_finished_total)") == STALLED,
        60,
        "Prometheus to scrape the restarted worker's jobs",
    )
    alerted: list[float | None] = [None]

    def queue_wait_alerted() -> bool:
        alerted[0] = _first_alert_instant(prometheus, "recovered", restarted, time.time())
        return alerted[0] is not None

    _wait(queue_wait_alerted, 30, "the queue-wait alert")
    seen.checkpoints["recovered"] = _checkpoint(prometheus, every_query, alerted[0])
    seen.values["recovered:worker_finished"] = _scrape(stack.metrics_urls["worker"])[
        "burstlab_worker_jobs_finished_total"
    ]
    producer.clear_phase()
    _sweep(stack, prometheus, seen)
    return seen


async def _sweep_modes(url: str, metrics_url: str) -> tuple[list[dict[str, Any]], set[str]]:
    """The tiny sweep, one mode after the other, by the runner itself; and the sample names
    of a producer scrape taken while a step ran (its step series exist only then)."""
    scenario = override_sweep(
        load_scenario("sweep-io"), ",".join(map(str, SWEEP_RHO)), SWEEP_STEP_S
    )
    during_a_step: set[str] = set()

    async def scrape_during_a_step() -> None:
        while "burstlab_experiment_step_info" not in during_a_step:
            during_a_step.update(await asyncio.to_thread(_scrape, metrics_url))
            await asyncio.sleep(0.25)

    scraper = asyncio.create_task(scrape_during_a_step())
    summaries = []
    try:
        for mode in SWEEP_MODES:
            _, summary = await run_sweep_mode(
                url,
                mode,
                WORKERS,
                scenario,
                scenario.seed,
                ProgressDisplay(enabled=False),
                service_probe(scenario, WORKERS),
            )
            summaries.append(summary)
    finally:
        scraper.cancel()
    return summaries, during_a_step


def _sweep(stack: LocalStack, prometheus: PrometheusClient, seen: Observed) -> None:
    """Run the tiny sweep; checkpoint the per-step queries during it and after it."""
    began = time.time()
    seen.sweep, during_a_step = asyncio.run(
        _sweep_modes(stack.producer_url, stack.metrics_urls["producer"])
    )
    seen.exposed |= during_a_step
    time.sleep(2)  # a rule evaluation or two after the last step
    ended = time.time()
    seen.values["sweep:began"], seen.values["sweep:ended"] = began, ended
    print(f"\ntiny sweep took {ended - began:.1f} s")
    live = [q for q in PER_STEP if not q.instant]
    at = _first_instant_all_finite(prometheus, live, began, ended)
    seen.checkpoints["step"] = _checkpoint(prometheus, live, at)
    seen.checkpoints["swept"] = _checkpoint(prometheus, [q for q in PER_STEP if q.instant], ended)


@pytest.fixture(scope="module")
def monitored(
    tmp_path_factory: pytest.TempPathFactory, prometheus_installed: None
) -> Iterator[tuple[LocalStack, Observed]]:
    local = LocalStack(
        StackConfig(
            workers=WORKERS,
            baseline_workers=WORKERS,
            prometheus=True,
            run_dir=tmp_path_factory.mktemp("monitored"),
        )
    )
    local.start()
    try:
        assert local.prometheus_url is not None
        yield local, _run_scenario(local, PrometheusClient(local.prometheus_url))
    finally:
        local.stop()


def test_the_stacks_prometheus_scrapes_every_service_with_the_repository_rules(
    monitored: tuple[LocalStack, Observed],
) -> None:
    stack, seen = monitored
    prometheus = PrometheusClient(stack.prometheus_url or "")
    # Then one target per service (and Prometheus itself), each scraped in well under a second
    assert sorted(seen.scrape_seconds) == ["baseline", "producer", "prometheus", "worker"]
    assert all(0 < s < 1.0 for s in seen.scrape_seconds.values()), seen.scrape_seconds
    print(f"\nscrape durations (s): {seen.scrape_seconds}")
    # And every rule of the repository's rule files is loaded
    loaded = {rule["name"] for group in prometheus.rules() for rule in group["rules"]}
    assert loaded == {q.source.split(": ", 1)[1] for q in RULE_QUERIES}


@pytest.mark.parametrize(
    "query",
    [
        q
        for q in DASHBOARD_QUERIES + RULE_QUERIES
        if not q.alert and q.expr != ALERT_STATE_QUERY and not q.per_step
    ],
    ids=lambda q: q.source,
)
def test_every_dashboard_and_recording_rule_query_has_a_value_after_a_burst(
    monitored: tuple[LocalStack, Observed], query: Query
) -> None:
    _, seen = monitored
    assert seen.checkpoints["burst"].finite(query.expr), (
        f"{query.expr} gave {seen.checkpoints['burst'].samples[query.expr]}"
    )


def test_the_alert_state_panel_shows_the_alerts_while_workers_are_stopped(
    monitored: tuple[LocalStack, Observed],
) -> None:
    _, seen = monitored
    samples = seen.checkpoints["stalled"].samples[ALERT_STATE_QUERY]
    assert {s["metric"]["alertname"] for s in samples} >= {"BurstlabWorkerDown"}


@pytest.mark.parametrize("name", sorted(ALERT_CHECKPOINT))
def test_every_alert_rule_fires_when_its_condition_holds(
    monitored: tuple[LocalStack, Observed], name: str
) -> None:
    _, seen = monitored
    checkpoint = seen.checkpoints[ALERT_CHECKPOINT[name]]
    # Then its expression returns data, and Prometheus holds the alert pending or firing
    assert checkpoint.samples[ALERTS[name].expr], ALERTS[name].expr
    assert checkpoint.alerts.get(name) in ("pending", "firing"), checkpoint.alerts
    # and it did not while everything was healthy
    assert name not in seen.checkpoints["burst"].alerts


def test_no_alert_rule_is_left_unchecked() -> None:
    assert set(ALERTS) == set(ALERT_CHECKPOINT)


def test_counts_are_exact_through_prometheus(monitored: tuple[LocalStack, Observed]) -> None:
    _, seen = monitored
    # Then Prometheus holds the sums over every pool process, exactly
    assert seen.values["prometheus:worker_jobs_finished"] == BURST
    assert seen.values["prometheus:baseline_jobs_finished"] == BURST
    assert seen.values["prometheus:jobs_completed"] == 2 * BURST
    # as every service counted each of the 40 jobs per mode exactly once
    assert seen.values["worker:burstlab_worker_jobs_finished_total"] == BURST
    assert seen.values["worker:burstlab_worker_jobs_started_total"] == BURST
    assert seen.values["baseline:burstlab_baseline_jobs_finished_total"] == BURST
    assert seen.values["producer:burstlab_jobs_completed_total"] == 2 * BURST
    assert seen.values["producer:burstlab_jobs_submitted_total"] == 2 * BURST + 2
    assert seen.values["producer:burstlab_jobs_rejected_total"] == 2
    assert seen.values["producer:burstlab_job_end_to_end_seconds_count"] == 2 * BURST
    # And the restarted worker counted the 30 stalled jobs from zero
    assert seen.values["recovered:worker_finished"] == STALLED


def test_the_backlog_equals_the_jobs_waiting_while_workers_are_stopped(
    monitored: tuple[LocalStack, Observed],
) -> None:
    _, seen = monitored
    # Then the producer's gauge, its /queue endpoint and Prometheus all say 30 waiting
    assert seen.values["stalled:burstlab_async_backlog_jobs"] == STALLED
    assert seen.values["stalled:burstlab_async_queued_jobs"] == STALLED
    assert seen.values["stalled:reserved"] == 0
    assert seen.queue_endpoint["backlog"] == STALLED
    assert seen.values["stalled:prometheus_backlog"] == STALLED
    # And the oldest job's age is how long the first wave has waited
    assert 5.5 <= seen.values["stalled:oldest_age"] <= seen.values["stalled:waited"] + 0.5


def test_every_metric_a_dashboard_or_rule_names_is_exposed_by_a_service(
    monitored: tuple[LocalStack, Observed],
) -> None:
    _, seen = monitored
    known = seen.exposed | recorded_names() | PROMETHEUS_NAMES
    for query in DASHBOARD_QUERIES + RULE_QUERIES:
        assert metric_names(query.expr) <= known, (query.source, metric_names(query.expr) - known)


def test_the_key_panels_render_from_prometheus_query_results(
    monitored: tuple[LocalStack, Observed], tmp_path: Any
) -> None:
    from burstlab.dashboards.render import KEY_PANELS, render_panels

    stack, seen = monitored
    # When the dashboard's key panels are drawn over the scenario's time range
    start = seen.checkpoints["burst"].at - 60
    end = seen.checkpoints["recovered"].at
    out = render_panels(stack.prometheus_url or "", start, end, tmp_path / "panels.png")
    # Then a PNG of them is written
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 50_000
    assert len(KEY_PANELS) == 6


@pytest.mark.parametrize("query", PER_STEP, ids=lambda q: q.source)
def test_every_per_step_query_has_a_value_during_or_after_a_sweep(
    monitored: tuple[LocalStack, Observed], query: Query
) -> None:
    _, seen = monitored
    # Then the per-step rules (and the live step panel) had a value while a step ran, and the
    # sweep panels' instant queries have one after the sweep
    checkpoint = seen.checkpoints["swept" if query.instant else "step"]
    assert checkpoint.finite(query.expr), f"{query.expr} gave {checkpoint.samples[query.expr]}"


def _sweep_panel(title: str) -> dict[str, Any]:
    dashboard = load_dashboard(DASHBOARDS_DIR / "sync-vs-async.json")
    return next(p for p in panels(dashboard) if p["title"] == title)


def test_the_latency_curve_panel_reads_one_point_per_step_of_the_sweep(
    monitored: tuple[LocalStack, Observed],
) -> None:
    from burstlab.dashboards.render_sweep import join_rows

    _, seen = monitored
    panel = _sweep_panel(LATENCY_CURVE_PANEL)
    # Given the curve's two queries (step throughput, step p99) after the sweep
    results = [
        seen.checkpoints["swept"].samples[q.expr]
        for q in DASHBOARD_QUERIES
        if q.source.endswith(LATENCY_CURVE_PANEL)
    ]
    assert len(results) == len(panel["targets"]) == 2
    # Then each returns one series per step: every mode at every rho, no more
    steps = {(mode, f"{rho:g}") for mode in SWEEP_MODES for rho in SWEEP_RHO}
    for samples in results:
        assert sorted((s["metric"]["mode"], s["metric"]["rho"]) for s in samples) == sorted(steps)
        assert {(s["metric"]["scenario"], s["metric"]["workers"]) for s in samples} == {
            ("sweep-io", str(WORKERS))
        }
    # And joined as the panel joins them, each step is one point with both coordinates
    rows = join_rows(results, ("scenario", "mode", "workers", "rho"))
    assert len(rows) == len(steps)
    assert all(math.isfinite(v) and v > 0 for _, values in rows for v in values), rows
    # And per mode, the step at the higher rho completed more jobs per second
    by_step = {(labels["mode"], labels["rho"]): values for labels, values in rows}
    print("\nsweep steps (completed jobs/s, p99 s):", by_step)
    for mode in SWEEP_MODES:
        assert by_step[(mode, "0.7")][0] > by_step[(mode, "0.3")][0], by_step
    # And each step's throughput is the runner's own figure for it, within the noise of a
    # measured part only 3 s long (a 5 s window reaching back into the step before would
    # read far lower at the first step and between the two at the second)
    for run in seen.sweep:
        for step in run["steps"]:
            drawn = by_step[(run["mode"], f"{step['rho']:g}")][0]
            runner = step["achieved_per_s"]
            print(f"{run['mode']} rho {step['rho']:g}: {drawn:.1f} jobs/s drawn, {runner:.1f} run")
            assert 0.5 * runner < drawn < 2 * runner, (run["mode"], step["rho"], drawn, runner)


def test_the_capacity_panel_reads_one_point_per_mode_and_worker_count(
    monitored: tuple[LocalStack, Observed],
) -> None:
    _, seen = monitored
    peak = next(
        q
        for q in DASHBOARD_QUERIES
        if q.source.endswith(CAPACITY_PANEL)
        and q.expr.startswith("max by")
        and " and " not in q.expr
    )
    samples = seen.checkpoints["swept"].samples[peak.expr]
    assert sorted((s["metric"]["mode"], s["metric"]["workers"]) for s in samples) == sorted(
        (mode, str(WORKERS)) for mode in SWEEP_MODES
    )
    # And the runner's own summary has the same steps the dashboard drew
    runs = [[s["rho"] for s in run["steps"]] for run in seen.sweep]
    assert runs == [list(SWEEP_RHO)] * len(SWEEP_MODES)


def test_the_sweep_panels_render_from_prometheus_query_results(
    monitored: tuple[LocalStack, Observed], tmp_path: Any
) -> None:
    from burstlab.dashboards.render import SWEEP_PANELS, render_panels

    stack, seen = monitored
    # When the sweep panels are drawn over the sweep's time range
    out = render_panels(
        stack.prometheus_url or "",
        seen.values["sweep:began"],
        seen.values["sweep:ended"],
        tmp_path / "sweep.png",
        titles=SWEEP_PANELS,
    )
    # Then a PNG of them is written
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000
