"""deploy/k8s: every overlay renders with ``kubectl kustomize``, every document passes the strict
shared schemas, and the workloads are built the way they must be.

Without a cluster: the schemas stand in for the API server's field validation; the container
commands and environment are compared with docker-compose.yml, whose commands run as processes in
tests/integration/test_compose_commands.py.
"""

from __future__ import annotations

import base64
import inspect
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from k8s_overlays import (
    OVERLAYS,
    ROOT,
    find,
    one,
    overlay,
    schema_file,
    schemas_present,
    validator,
)

from burstlab.jobs.spec import MAX_DURATION_MS
from producer.config import ProducerConfig
from sync_baseline.config import BaselineConfig
from workers.config import WorkerConfig

APP_SERVICES: dict[str, Any] = {
    "producer": ProducerConfig,
    "baseline": BaselineConfig,
    "worker": WorkerConfig,
}
WORKLOADS = ("Deployment", "StatefulSet")
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?]([^}]*))?\}")
KUBERNETES_ONLY = {"REDIS_PASSWORD", "REDIS_HOST", "REDIS_PORT", "PROMETHEUS_MULTIPROC_DIR"}
"""Set in Kubernetes only: the parts REDIS_URL is made of, and the multiprocess metrics folder
(compose lets the service make a temporary one; here it is an emptyDir)."""
NOT_IN_KUBERNETES = {"baseline": {"REDIS_URL"}, "producer": {"RABBITMQ_MANAGEMENT_URL"}}
"""Compose gives every app service REDIS_URL; the baseline reads none, so here it gets no password.
RabbitMQ is a compose profile, not deployed here: the producer gets no management URL (BROKER_URL
is empty, as in compose by default, so the queue is on Redis)."""
PLACEHOLDER = re.compile(r"change-me")
PROMETHEUS_RULE_SCHEMA: dict[str, Any] = {
    # ../shared/k8s-schemas has no PrometheusRule: this strict schema covers the fields burstlab
    # uses, and promtool checks the rules themselves (test below).
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"enum": ["monitoring.coreos.com/v1"]},
        "kind": {"enum": ["PrometheusRule"]},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["groups"],
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string"},
                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                            "rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["expr"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "record": {"type": "string"},
                                        "alert": {"type": "string"},
                                        "expr": {"type": "string"},
                                        "for": {"type": "string"},
                                        "labels": {"type": "object"},
                                        "annotations": {"type": "object"},
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
    },
}


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] in WORKLOADS]


def container(docs: list[dict[str, Any]], deployment: str) -> dict[str, Any]:
    pod = one(docs, "Deployment", deployment)["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    return dict(pod["containers"][0])


def environment(docs: list[dict[str, Any]], item: dict[str, Any]) -> dict[str, str]:
    """A container's variables: its envFrom ConfigMaps, then its env (secrets as ``<secret>``)."""
    values: dict[str, str] = {}
    for source in item.get("envFrom", []):
        values.update(one(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for var in item.get("env", []):
        values[var["name"]] = var.get("value", "<secret>")
    return values


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector selects ``labels``."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        ok = {
            "In": present and value in expression.get("values", []),
            "NotIn": not present or value not in expression.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[expression["operator"]]
        if not ok:
            return False
    return True


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_document_of_every_overlay_validates_against_the_strict_schemas(name: str) -> None:
    schemas_present()
    # Given the rendered overlay
    docs = overlay(name)
    assert workloads(docs), f"{name} renders no workload"
    errors = []
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "PrometheusRule":
            check = jsonschema.Draft7Validator(PROMETHEUS_RULE_SCHEMA)
        else:
            path = schema_file(doc)
            assert path.exists(), f"{name}: no schema for {where} ({path.name})"
            check = validator(path)
        # Then every document passes its schema: an unknown or misspelled field fails
        errors += [
            f"{where}: {'/'.join(map(str, e.path))}: {e.message}" for e in check.iter_errors(doc)
        ]
    assert errors == [], "\n".join(errors)


@pytest.mark.parametrize("name", OVERLAYS)
def test_everything_an_overlay_deploys_lands_in_the_burstlab_namespace(name: str) -> None:
    docs = overlay(name)
    assert [d["metadata"]["name"] for d in find(docs, "Namespace")] == ["burstlab"]
    outside = [
        f"{d['kind']}/{d['metadata']['name']}"
        for d in docs
        if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "burstlab"
    ]
    assert outside == []


def test_the_schemas_catch_a_misspelled_field() -> None:
    schemas_present()
    # Given a valid Deployment with one field misspelled, Then its schema rejects it
    deployment = one(overlay("dev"), "Deployment", "worker")
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    assert list(validator(schema_file(deployment)).iter_errors(deployment))


def test_the_overlays_are_the_documented_ones() -> None:
    assert set(OVERLAYS) == {
        "dev", "keda", "external-redis", "monitoring", "baseline-hpa", "full", "loadgen",
    }  # fmt: skip


def test_the_load_job_runs_p_indexed_shards_of_one_schedule_from_one_start() -> None:
    # Given the loadgen overlay's Job
    job = one(overlay("loadgen"), "Job", "loadgen")
    spec = job["spec"]
    pod = spec["template"]["spec"]
    (item,) = pod["containers"]
    args = item["args"]
    # Then P pods run at once, one per completion index, and each sends shard INDEX/P
    assert spec["completionMode"] == "Indexed"
    shards = spec["parallelism"]
    assert shards == spec["completions"] > 1
    assert args[args.index("--shard") + 1] == f"$(JOB_COMPLETION_INDEX)/{shards}"
    # against the producer Service, from one shared start, each into its own folder on one volume
    assert args[:2] == ["run", "burst"]
    assert args[args.index("--target") + 1] == "http://producer:8080"
    assert args[args.index("--start-at") + 1].startswith("next:")
    out = args[args.index("--out") + 1]
    assert "$(JOB_COMPLETION_INDEX)" in out
    mounts = {m["name"]: m["mountPath"] for m in item["volumeMounts"]}
    assert out.startswith(mounts["results"] + "/")
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    claim = one(overlay("loadgen"), "PersistentVolumeClaim", claims["results"])
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    # And the pod is as locked down as the services', never retried (a late shard is no shard)
    assert pod["restartPolicy"] == "Never" and spec["backoffLimit"] == 0
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert item["image"] == f"burstlab:{VERSION}"
    assert item["securityContext"]["readOnlyRootFilesystem"] is True
    assert item["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert set(item["resources"]["limits"]) == {"cpu", "memory"}
    # And the scenario it runs ships with burstlab
    assert (ROOT / "burstlab/scenario/builtin/burst.toml").is_file()


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_workload_is_pinned_non_root_read_only_limited_and_probed(name: str) -> None:
    for workload in workloads(overlay(name)):
        where = f"{name}: {workload['kind']}/{workload['metadata']['name']}"
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["runAsUser"] > 0, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert pod["serviceAccountName"] == "burstlab", where
        assert pod["automountServiceAccountToken"] is False, where
        for item in pod["containers"]:
            repository, _, tag = item["image"].rpartition(":")
            assert repository and tag != "latest" and re.search(r"\d", tag), where
            if repository.endswith("burstlab"):
                assert tag == VERSION, f"{where}: {item['image']} is not version {VERSION}"
            security = item["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            for bound in ("requests", "limits"):
                assert set(item["resources"][bound]) == {"cpu", "memory"}, f"{where} {bound}"
            assert "livenessProbe" in item, f"{where} has no liveness probe"
            if item.get("ports") and workload["metadata"]["name"] != "worker":
                assert "readinessProbe" in item, f"{where} serves traffic without readiness"


def test_the_probes_are_the_health_endpoints_and_the_worker_check() -> None:
    docs = overlay("dev")
    producer = container(docs, "producer")
    assert producer["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert producer["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    baseline = container(docs, "baseline")
    assert baseline["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    # The baseline's /healthz (which the producer's /readyz asks too) waits for a free sync
    # worker: both readiness probes tolerate a longest job before they take a pod off its Service
    for probe in (baseline["readinessProbe"], producer["readinessProbe"]):
        assert probe["periodSeconds"] * probe["failureThreshold"] > MAX_DURATION_MS / 1000
    worker = container(docs, "worker")
    assert worker["livenessProbe"]["exec"]["command"][:2] == ["burstlab", "check-worker"]
    # And the paths are routes the services serve
    routes = (ROOT / "producer/routes.py").read_text()
    assert '"/readyz"' in routes and '"/healthz"' in routes
    assert '"/healthz"' in (ROOT / "sync_baseline/app.py").read_text()


def test_each_app_container_runs_the_compose_command_of_its_service() -> None:
    docs = overlay("dev")
    for service in APP_SERVICES:
        item = container(docs, service)
        assert "command" not in item, f"{service}: the image's entry point is burstlab"
        assert item["args"] == COMPOSE["services"][service]["command"], service


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_app_pod_outlives_the_longest_job_when_stopped(name: str) -> None:
    for service in APP_SERVICES:
        pod = one(overlay(name), "Deployment", service)["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] > MAX_DURATION_MS / 1000 + 10, service


@pytest.mark.parametrize("name", OVERLAYS)
def test_what_a_container_writes_goes_to_an_empty_dir(name: str) -> None:
    for workload in workloads(overlay(name)):
        pod = workload["spec"]["template"]["spec"]
        scratch = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for item in pod["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in item.get("volumeMounts", [])}
            assert mounts.get("/tmp") in scratch, f"{workload['metadata']['name']}: /tmp"
            env = {v["name"]: v.get("value") for v in item.get("env", [])}
            if "PROMETHEUS_MULTIPROC_DIR" in env:
                assert mounts.get(env["PROMETHEUS_MULTIPROC_DIR"]) in scratch


def test_the_services_that_fork_get_a_multiprocess_metrics_folder_and_the_producer_none() -> None:
    docs = overlay("dev")
    # cli/main.py: baseline and worker prepare PROMETHEUS_MULTIPROC_DIR, the producer removes it
    assert "PROMETHEUS_MULTIPROC_DIR" in environment(docs, container(docs, "baseline"))
    assert "PROMETHEUS_MULTIPROC_DIR" in environment(docs, container(docs, "worker"))
    assert "PROMETHEUS_MULTIPROC_DIR" not in environment(docs, container(docs, "producer"))


@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_every_variable_a_service_reads_is_set_as_compose_sets_it(service: str) -> None:
    # Given the variables the service's config reads and those compose gives it
    docs = overlay("dev")
    config_class = APP_SERVICES[service]
    read = set(re.findall(r'env\.get\(\s*"([A-Z0-9_]+)"', inspect.getsource(config_class.from_env)))
    env = environment(docs, container(docs, service))
    compose_env = COMPOSE["services"][service]["environment"]
    # Then Kubernetes sets every one of them
    assert read - set(env) - NOT_IN_KUBERNETES.get(service, set()) == set()
    # And the same variables as compose, to the values compose uses by default
    expected = set(compose_env) - NOT_IN_KUBERNETES.get(service, set())
    assert set(env) - KUBERNETES_ONLY == expected, service
    for name, value in compose_env.items():
        if name in NOT_IN_KUBERNETES.get(service, set()) or name == "REDIS_URL":
            continue
        match = INTERPOLATION.fullmatch(str(value))
        default = match.group(2) if match else str(value)
        assert env[name] == default, (
            f"{service}.{name}: {env[name]} in Kubernetes, {value} in compose"
        )
    if "REDIS_URL" in env:
        assert env["REDIS_URL"] == "redis://:$(REDIS_PASSWORD)@$(REDIS_HOST):$(REDIS_PORT)/0"
        names = [v["name"] for v in container(docs, service)["env"]]
        assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL"), "$() sees only earlier"


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_secret_reference_is_the_redis_password_and_secrets_hold_placeholders(
    name: str,
) -> None:
    docs = overlay(name)
    for workload in workloads(docs):
        for item in workload["spec"]["template"]["spec"]["containers"]:
            for var in item.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref == {"name": "burstlab-redis", "key": "password"}, var
    for auth in find(docs, "TriggerAuthentication"):
        for ref in auth["spec"]["secretTargetRef"]:
            assert (ref["name"], ref["key"]) == ("burstlab-redis", "password")
    for secret in find(docs, "Secret"):
        assert name == "dev", f"{name} ships a Secret: the user creates burstlab-redis"
        values = [base64.b64decode(v).decode() for v in secret.get("data", {}).values()]
        values += secret.get("stringData", {}).values()
        assert values and all(PLACEHOLDER.search(v) for v in values), secret["metadata"]["name"]


def test_redis_keeps_its_data_on_a_volume_requires_the_password_and_never_evicts() -> None:
    docs = overlay("dev")
    redis = one(docs, "StatefulSet", "redis")
    assert redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    item = redis["spec"]["template"]["spec"]["containers"][0]
    command = " ".join(item["command"])
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    assert '--requirepass "$REDIS_PASSWORD"' in command
    assert {"name": "data", "mountPath": "/data"} in item["volumeMounts"]
    assert item["env"][0]["valueFrom"]["secretKeyRef"] == {
        "name": "burstlab-redis",
        "key": "password",
    }
    service = one(docs, "Service", "redis")
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert redis["spec"]["serviceName"] == "redis"


def _pod_labels(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"] for w in workloads(docs)
    }


@pytest.mark.parametrize("name", sorted(set(OVERLAYS) - {"external-redis"}))
def test_the_network_policy_admits_only_burstlabs_redis_clients_to_redis(name: str) -> None:
    # Given the overlay's pods and the policy in front of Redis
    docs = overlay(name)
    policy = one(docs, "NetworkPolicy", "redis")
    labels = _pod_labels(docs)
    # Then it selects the Redis pod only, and guards its ingress
    assert [n for n, pod in labels.items() if matches(policy["spec"]["podSelector"], pod)] == [
        "redis"
    ]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert all(
        rule["ports"] == [{"protocol": "TCP", "port": 6379}] for rule in policy["spec"]["ingress"]
    )
    local = [p for p in peers if "namespaceSelector" not in p]
    # And from this namespace only the producer and the workers, not the baseline nor a stranger
    admitted = {
        n for n, pod in labels.items() if any(matches(p["podSelector"], pod) for p in local)
    }
    assert admitted == {"producer", "worker"}
    stranger = {"app.kubernetes.io/name": "producer"}  # a look-alike that is not burstlab's
    assert not any(matches(p["podSelector"], stranger) for p in local)
    # And from elsewhere only KEDA's operator, where KEDA scales the workers
    remote = [p for p in peers if "namespaceSelector" in p]
    if find(docs, "ScaledObject"):
        assert remote == [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "keda-operator"}},
            }
        ]
    else:
        assert remote == []


def test_the_external_redis_overlay_runs_no_redis_and_points_every_client_at_the_host() -> None:
    docs = overlay("external-redis")
    assert find(docs, "StatefulSet") == [] and find(docs, "Service", "redis") == []
    assert find(docs, "NetworkPolicy") == []
    for service in ("producer", "worker"):
        env = environment(docs, container(docs, service))
        assert env["REDIS_HOST"] == "redis.example.internal" and env["REDIS_PORT"] == "6379"


def test_disruption_budgets_cover_the_producer_and_the_workers() -> None:
    docs = overlay("dev")
    labels = _pod_labels(docs)
    covered = {
        n for pdb in find(docs, "PodDisruptionBudget") for n, pod in labels.items()
        if matches(pdb["spec"]["selector"], pod)
    }  # fmt: skip
    assert covered == {"producer", "worker"}


def test_every_service_selects_its_pods_on_a_named_container_port() -> None:
    docs = overlay("dev")
    labels = _pod_labels(docs)
    for service in find(docs, "Service"):
        selected = [
            n
            for n, pod in labels.items()
            if matches({"matchLabels": service["spec"]["selector"]}, pod)
        ]
        assert selected == [service["metadata"]["name"]]
        workload = next(w for w in workloads(docs) if w["metadata"]["name"] == selected[0])
        ports = {
            p["name"]: p["containerPort"]
            for c in workload["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert ports[port["targetPort"]] == port["port"], service["metadata"]["name"]


def test_service_monitors_scrape_every_service_every_second_on_its_metrics_port() -> None:
    # Given the monitoring overlay
    docs = overlay("monitoring")
    scrape_interval = yaml.safe_load((ROOT / "monitoring/prometheus/prometheus.yml").read_text())[
        "global"
    ]["scrape_interval"]
    ports = {"producer": 9542, "worker": 9540, "baseline": 9541}
    for name, port in ports.items():
        monitor = one(docs, "ServiceMonitor", name)
        service = one(docs, "Service", name)
        # Then its selector picks the Service named as compose's scrape job, on the metrics port
        assert matches(monitor["spec"]["selector"], service["metadata"]["labels"])
        (endpoint,) = monitor["spec"]["endpoints"]
        named = {p["name"]: p["port"] for p in service["spec"]["ports"]}
        assert named[endpoint["port"]] == port and endpoint["path"] == "/metrics"
        assert endpoint["interval"] == scrape_interval
    # And every worker replica is a target: its Service is headless
    assert one(docs, "Service", "worker")["spec"]["clusterIP"] == "None"


def test_dashboards_are_sidecar_config_maps_of_every_dashboard_file() -> None:
    docs = overlay("monitoring")
    maps = [
        m
        for m in find(docs, "ConfigMap")
        if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    shipped = {
        p.name: p.read_text() for p in (ROOT / "monitoring/grafana/dashboards").glob("*.json")
    }
    assert {k: v for m in maps for k, v in m["data"].items()} == shipped


def test_the_prometheus_rule_holds_every_rule_and_promtool_accepts_them(tmp_path: Path) -> None:
    # Given the rendered PrometheusRule
    (rule,) = find(overlay("monitoring"), "PrometheusRule")
    shipped = [
        r for path in sorted((ROOT / "monitoring/prometheus/rules").glob("*.yml"))
        for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]
    ]  # fmt: skip
    # Then it has every rule of monitoring/, evaluated every second
    assert [r for g in rule["spec"]["groups"] for r in g["rules"]] == shipped
    assert {g["interval"] for g in rule["spec"]["groups"]} == {"1s"}
    # And promtool accepts them as a rule file
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(rule["spec"]))
    result = subprocess.run(
        ["promtool", "check", "rules", str(rules)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
