"""docker-compose.yml: valid against the Compose Specification, and built the way it must be.

Schema and structure, without a Docker engine. Compose itself renders the file in
tests/unit/test_compose_config.py; the command lines its services run are started as processes in
tests/integration/test_compose_commands.py.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from producer.config import ProducerConfig
from sync_baseline.config import BaselineConfig
from workers.config import WorkerConfig

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMA = ROOT.parent / "shared" / "compose-spec.json"
APP_SERVICES: dict[str, Any] = {
    "producer": ProducerConfig,
    "baseline": BaselineConfig,
    "worker": WorkerConfig,
}
SCALE_AND_LOGS = {"BASELINE_WORKERS", "WORKER_CONCURRENCY", "LOG_LEVEL", "SYNC_MAX_INFLIGHT"}
"""Compose picks its own defaults for these (a stack of 2 + 2 workers, at most 2 sync jobs in
flight per baseline worker, quiet logs)."""
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?]([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def documented_variables() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip()
    return values


def test_the_compose_file_validates_against_the_compose_specification_schema(
    compose: dict[str, Any],
) -> None:
    if not SCHEMA.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the Compose Specification schema is missing at {SCHEMA}")
        pytest.skip("no ../shared/compose-spec.json beside this checkout")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(compose)
    assert "version" not in compose
    assert all("links" not in service for service in compose["services"].values())


def test_every_image_is_pinned_to_a_version_and_overridable_by_a_documented_variable(
    services: dict[str, dict[str, Any]],
) -> None:
    # A service's image is burstlab's own build, or ${X_IMAGE:-pin}: overridable for a registry
    # mirror or a stand-in, with the same pin documented in .env.example
    example = (ROOT / ".env.example").read_text()
    build_arg = services["worker"]["build"]["args"]["PYTHON_IMAGE"]
    pins = [("worker build", build_arg)] + [
        (name, service["image"]) for name, service in services.items() if "build" not in service
    ]
    for name, image in pins:
        match = re.fullmatch(r"\$\{(?P<var>[A-Z_]+_IMAGE):-(?P<pin>[^}]+)\}", image)
        assert match, f"{name}: {image} is not ${{X_IMAGE:-pin}}"
        repository, _, tag = match["pin"].rpartition(":")
        assert repository and tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"
        assert f"\n{match['var']}={match['pin']}\n" in example, f"{match['var']} undocumented"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG PYTHON_IMAGE={build_arg.split(':-')[1].rstrip('}')}\n" in dockerfile


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_services_wait_for_the_health_of_what_they_depend_on(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            # A service of a profile is waited for when it runs, not required when it does not.
            expected = {"condition": "service_healthy"}
            if "profiles" in services[dependency]:
                expected["required"] = False
            assert condition == expected, f"{name} -> {dependency}"
    assert set(services["producer"]["depends_on"]) == {"redis", "baseline", "rabbitmq"}
    assert set(services["worker"]["depends_on"]) == {"redis", "rabbitmq"}


def test_the_worker_service_can_scale(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert not any("container_name" in s for s in services.values())


def test_redis_is_not_published_requires_a_password_and_keeps_an_append_only_file(
    services: dict[str, dict[str, Any]],
) -> None:
    redis = services["redis"]
    assert "ports" not in redis
    command = " ".join(redis["command"])
    assert "--requirepass" in command and "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    for name in APP_SERVICES:
        url = services[name]["environment"]["REDIS_URL"]
        assert url.startswith("redis://:${REDIS_PASSWORD:?") and "@redis:6379" in url


def test_rabbitmq_is_a_profile_not_published_with_a_required_password_and_durable_data(
    services: dict[str, dict[str, Any]],
) -> None:
    # Given the RabbitMQ service of the compose file
    rabbitmq = services["rabbitmq"]
    # Then it runs only in its profile, is reachable only inside the stack, keeps its data
    assert rabbitmq["profiles"] == ["rabbitmq"]
    assert "ports" not in rabbitmq
    assert rabbitmq["hostname"] == "rabbitmq"  # its database directory is named after it
    assert "rabbitmq-data:/var/lib/rabbitmq" in rabbitmq["volumes"]
    # And its node refuses to start without the password of .env
    assert rabbitmq["environment"]["RABBITMQ_DEFAULT_PASS"] == "${RABBITMQ_PASSWORD:-}"
    command = " ".join(rabbitmq["command"])
    assert '[ -z "$$RABBITMQ_DEFAULT_PASS" ]' in command and "exit 1" in command
    assert "set RABBITMQ_PASSWORD in .env" in command


def test_one_variable_moves_the_queue_to_rabbitmq_for_every_app_service(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in APP_SERVICES:
        assert services[name]["environment"]["BROKER_URL"] == "${BROKER_URL:-}", name
    assert documented_variables()["BROKER_URL"] == ""  # empty: Redis, as before
    assert "amqp://burstlab:${RABBITMQ_PASSWORD}@rabbitmq:5672/" in ENV_EXAMPLE.read_text()


def test_grafana_requires_its_admin_password_and_lets_visitors_view(
    services: dict[str, dict[str, Any]],
) -> None:
    env = services["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_published_ports_bind_to_the_loopback_interface(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"


def test_every_file_the_compose_file_mounts_exists_in_the_repository(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "monitoring/grafana/dashboards" / Path(home).name).exists()


def test_the_loadgen_writes_results_to_a_named_volume_over_a_folder_its_user_owns(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    # A bind mount of a host folder would be unwritable for the image's user (uid 10001) on most
    # hosts; a new named volume starts as a copy of the image's folder, owner included.
    assert services["loadgen"]["volumes"] == ["results:/app/results"]
    assert "results" in compose["volumes"]
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"useradd [^\n]*--uid 10001 [^\n]*burstlab", dockerfile)
    assert re.search(r"^WORKDIR /app$", dockerfile, re.MULTILINE)
    assert "mkdir -p /app/results" in dockerfile
    assert "chown burstlab:burstlab /app/results" in dockerfile
    assert re.search(r"^USER burstlab$", dockerfile, re.MULTILINE)
    # The runner writes to results/ under its working directory, the image's WORKDIR
    from burstlab.experiments.model.run import default_out_dir
    from burstlab.scenario.spec import load_scenario

    out = default_out_dir(load_scenario("burst"))
    assert not out.is_absolute() and (Path("/app") / out).parent == Path("/app/results")


def test_the_prometheus_config_in_compose_is_the_one_the_local_stack_uses(
    services: dict[str, dict[str, Any]],
) -> None:
    from burstlab.stack import prometheus_server

    mounts = dict(v.split(":", 1) for v in services["prometheus"]["volumes"])
    assert mounts["./monitoring/prometheus"] == "/etc/prometheus:ro"
    config_flag = services["prometheus"]["command"][0]
    assert config_flag == "--config.file=/etc/prometheus/prometheus.yml"
    assert (prometheus_server.MONITORING_DIR / "prometheus/prometheus.yml").samefile(
        ROOT / "monitoring/prometheus/prometheus.yml"
    )


def test_every_variable_the_compose_file_interpolates_is_documented_in_env_example() -> None:
    documented = documented_variables()
    used = {m.group(1) for m in INTERPOLATION.finditer(COMPOSE.read_text())}
    assert used - set(documented) == set()
    assert {"REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "RABBITMQ_PASSWORD"} <= set(documented)
    assert documented["REDIS_PASSWORD"] == "" and documented["GRAFANA_ADMIN_PASSWORD"] == ""
    assert documented["RABBITMQ_PASSWORD"] == ""


@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_every_variable_a_service_reads_is_set_in_its_environment_with_the_code_default(
    services: dict[str, dict[str, Any]], service: str
) -> None:
    config_class = APP_SERVICES[service]
    read = set(re.findall(r'env\.get\(\s*"([A-Z0-9_]+)"', inspect.getsource(config_class.from_env)))
    environment = services[service]["environment"]
    assert read - set(environment) == set(), f"{service} reads variables compose does not set"
    defaults = config_class.from_env({})
    documented = documented_variables()
    for name in read:
        match = INTERPOLATION.fullmatch(str(environment[name]))
        if match is None or match.group(2) is None or "?" in str(environment[name]):
            continue
        if name in SCALE_AND_LOGS:
            continue
        default = match.group(2)
        field = _field_for(config_class, name)
        if field is None:
            continue
        assert _same(getattr(defaults, field), default), f"{service}.{name} default drifted"
        if name in documented:
            assert _same(getattr(defaults, field), documented[name]), f".env.example {name}"


def _field_for(config_class: Any, variable: str) -> str | None:
    source = inspect.getsource(config_class.from_env)
    found = re.search(r"(\w+)\s*=\s*[^\n]*\"" + variable + '"', source)
    return found.group(1) if found else None


def _same(value: object, text: str) -> bool:
    if value is None:
        return text == ""
    if isinstance(value, bool):
        return value == (text.lower() in ("1", "true", "yes"))
    if isinstance(value, str):
        return value.lower() == text.lower()
    return float(value) == float(text)  # type: ignore[arg-type]
