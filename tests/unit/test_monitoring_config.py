"""The monitoring config on its own: dashboards, datasource, rules, and promtool's verdict."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from burstlab.dashboards.files import (
    DASHBOARDS_DIR,
    MONITORING_DIR,
    RULES_DIR,
    dashboard_paths,
    dashboard_queries,
    datasource_uids,
    load_dashboard,
    metric_names,
    panels,
    rule_queries,
)
from burstlab.stack.prometheus_server import prepare_config_dir

PROMETHEUS_DIR = MONITORING_DIR / "prometheus"
ALL_QUERIES = [q for path in dashboard_paths() for q in dashboard_queries(path)] + rule_queries()


def promtool() -> str:
    """The promtool binary; missing, the test skips locally and fails in CI."""
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("promtool is not installed (Debian package prometheus); CI must have it")
    pytest.skip("promtool is not installed (apt-get install prometheus)")


def test_there_are_two_dashboards_and_every_one_has_panels_with_queries() -> None:
    names = {path.name for path in dashboard_paths()}
    assert names == {"sync-vs-async.json", "services.json"}
    for path in dashboard_paths():
        assert len(dashboard_queries(path)) >= 10, path


@pytest.mark.parametrize("path", dashboard_paths(), ids=lambda p: p.name)
def test_a_dashboard_uses_the_current_schema_and_only_the_provisioned_datasource_by_uid(
    path: Path,
) -> None:
    dashboard = load_dashboard(path)
    uids = datasource_uids()
    # Then it is in the current schema, with a fixed uid and unique panel ids
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["uid"].startswith("burstlab-")
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    # And every panel, target and annotation names its datasource by a provisioned uid
    for panel in panels(dashboard):
        assert panel["datasource"]["uid"] in uids, panel["title"]
        assert panel["gridPos"]["w"] > 0 and panel["gridPos"]["h"] > 0
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
    for annotation in dashboard["annotations"]["list"]:
        if annotation.get("expr"):
            assert annotation["datasource"]["uid"] in uids
    # And no datasource is referred to by a display name anywhere
    assert '"datasource": "' not in path.read_text()


def test_the_datasource_is_one_prometheus_with_a_fixed_uid() -> None:
    files = list((MONITORING_DIR / "grafana/provisioning/datasources").glob("*.yml"))
    sources = [s for f in files for s in yaml.safe_load(f.read_text())["datasources"]]
    assert [(s["type"], s["uid"]) for s in sources] == [("prometheus", "burstlab-prometheus")]


def test_the_dashboard_provider_loads_the_dashboards_folder() -> None:
    provider = yaml.safe_load(
        (MONITORING_DIR / "grafana/provisioning/dashboards/burstlab.yml").read_text()
    )["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"].endswith("/dashboards")
    assert DASHBOARDS_DIR.name == "dashboards"


@pytest.mark.parametrize("query", ALL_QUERIES, ids=lambda q: q.source)
def test_a_query_has_no_variable_and_takes_quantiles_from_rate_over_a_fixed_window(query) -> None:  # type: ignore[no-untyped-def]
    # Every expression can be sent to Prometheus as written (tests evaluate them all)
    assert "$" not in query.expr
    assert "irate(" not in query.expr
    if "histogram_quantile(" in query.expr:
        over_a_window = r"\brate\([a-z_:]+_bucket(\{[^}]*\})?\[\d+[smh]\]\)"
        # or, for a sweep step, over the step itself: its recorded buckets' last minus first
        over_a_step = r"max_over_time\((step:[a-z_]+_bucket:sum)\[\w+\]\) - min_over_time\(\1\["
        assert re.search(over_a_window, query.expr) or re.search(over_a_step, query.expr)


WINDOW = re.compile(r"\b(rate|increase|deriv)\(([^\[]*)\[(\d+)([smh])\]\)")
SECONDS = {"s": 1, "m": 60, "h": 3600}


def test_prometheus_scrapes_and_evaluates_every_second_and_grafana_steps_as_fine() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())["global"]
    assert config["scrape_interval"] == config["evaluation_interval"] == "1s"
    sources = yaml.safe_load(
        (MONITORING_DIR / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"]
    assert [s["jsonData"]["timeInterval"] for s in sources] == ["1s"]


@pytest.mark.parametrize("query", ALL_QUERIES, ids=lambda q: q.source)
def test_rates_use_windows_of_a_few_scrapes_and_only_counts_and_trends_look_back_longer(
    query,  # type: ignore[no-untyped-def]
) -> None:
    for function, _, amount, unit in WINDOW.findall(query.expr):
        seconds = int(amount) * SECONDS[unit]
        # rate(): 5 s (five 1 s scrapes); increase() counts a minute; deriv() is a 1 min trend
        assert seconds <= {"rate": 5, "increase": 60, "deriv": 60}[function], query.expr
    assert "30s" not in query.source + query.expr


@pytest.mark.parametrize("path", dashboard_paths(), ids=lambda p: p.name)
def test_every_panel_says_its_resolution(path: Path) -> None:
    for panel in panels(load_dashboard(path)):
        assert "Resolution: " in panel["description"], panel["title"]
        if any("[5s]" in t["expr"] or "rate5s" in t["expr"] for t in panel["targets"]):
            assert "5 s window" in panel["description"], panel["title"]


def test_the_backlog_panel_and_the_growth_alert_count_both_queues() -> None:
    panel = next(
        p
        for p in panels(load_dashboard(DASHBOARDS_DIR / "sync-vs-async.json"))
        if p["title"].startswith("Backlog")
    )
    exprs = {t["expr"] for t in panel["targets"]}
    assert {"burstlab_sync_requests_waiting", "burstlab_sync_requests_in_flight"} <= exprs
    assert {"burstlab_async_queued_jobs", "burstlab_async_reserved_jobs"} <= exprs
    backlog = next(
        q.expr for q in rule_queries() if q.source.endswith("mode:burstlab_backlog_jobs:sum")
    )
    assert metric_names(backlog) == {
        "burstlab_async_backlog_jobs",
        "burstlab_sync_requests_waiting",
        "burstlab_sync_requests_in_flight",
    }
    assert "mode:burstlab_backlog_jobs:sum" in exprs


def test_counts_over_a_burst_come_from_increase() -> None:
    exprs = {q.expr for path in dashboard_paths() for q in dashboard_queries(path)}
    for name in ("submitted", "completed", "rejected"):
        assert f"mode:burstlab_jobs_{name}:increase1m" in exprs
    rules = {q.source.split(": ", 1)[1]: q.expr for q in rule_queries()}
    assert (
        "increase(burstlab_jobs_submitted_total[1m])"
        in rules["mode:burstlab_jobs_submitted:increase1m"]
    )


def test_recording_rules_are_named_level_metric_operation() -> None:
    for query in rule_queries():
        if not query.alert:
            name = query.source.split(": ", 1)[1]
            assert re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", name), name


def test_the_alerts_cover_queue_wait_against_an_slo_backlog_growth_and_workers_down() -> None:
    alerts = {q.source.split(": ", 1)[1]: q.expr for q in rule_queries() if q.alert}
    assert "queue_wait" in alerts["BurstlabQueueWaitOverSLO"]
    assert "deriv(mode:burstlab_backlog_jobs:sum" in alerts["BurstlabBacklogGrowing"]
    assert alerts["BurstlabWorkerDown"] == 'up{job="worker"} == 0'
    assert "absent(" in alerts["BurstlabNoWorkerUp"]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('sum by (mode) (rate(a_total{x="y,z"}[5s]))', {"a_total"}),
        ("histogram_quantile(0.95, sum by (le) (rate(h_bucket[1m])))", {"h_bucket"}),
        ("a / on(x) group_left(y) b offset 5m > 1e3 and c", {"a", "b", "c"}),
        ("mode:x_seconds:p95_rate5s > 10", {"mode:x_seconds:p95_rate5s"}),
        ('absent(up{job="worker"} == 1)', {"up"}),
        ("count by (alertname, alertstate) (ALERTS)", {"ALERTS"}),
    ],
)
def test_metric_names_are_read_out_of_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_promtool_accepts_the_rule_files() -> None:
    files = sorted(str(p) for p in RULES_DIR.glob("*.yml"))
    result = subprocess.run(
        [promtool(), "check", "rules", *files], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files)


def test_promtool_accepts_the_config_as_compose_and_as_the_local_stack_use_it(
    tmp_path: Path,
) -> None:
    tool = promtool()
    # Given the config as compose mounts it, and as the local stack links it next to targets
    local = prepare_config_dir(
        tmp_path / "prometheus",
        {"producer": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"], "baseline": ["127.0.0.1:3"]}
        | {"prometheus": ["127.0.0.1:4"]},
    )
    # Then promtool accepts both, and the local one finds every targets file and rule file
    for config in (PROMETHEUS_DIR / "prometheus.yml", local):
        result = subprocess.run(
            [tool, "check", "config", str(config)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "2 rule files found" in result.stdout
    local_check = subprocess.run(
        [tool, "check", "config", str(local)], capture_output=True, text=True, check=False
    )
    assert "WARNING" not in local_check.stdout, local_check.stdout
    # And the local config is the repository's very file, not a copy
    assert local.resolve() == (PROMETHEUS_DIR / "prometheus.yml").resolve()
