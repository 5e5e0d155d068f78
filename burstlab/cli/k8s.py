"""``burstlab k8s``: render the Kubernetes manifests burstlab derives from its own definitions."""

from __future__ import annotations

from pathlib import Path

import click

from burstlab.k8s.keda import PolicyNotRenderable, scaled_object, scaled_object_patch
from burstlab.k8s.monitoring import GENERATED_FOLDER, write_generated
from burstlab.k8s.yamltext import dump_documents
from burstlab.scenario.spec import ScenarioError, load_scenario


@click.group()
def k8s() -> None:
    """Kubernetes manifests derived from scenarios and monitoring/ (see docs/kubernetes.md)."""


def render_policy(scenario: str, *, patch: bool = False) -> str:
    """The ScaledObject (or its kustomize patch) of ``scenario``'s [autoscale] policy, as YAML."""
    loaded = load_scenario(scenario)
    if loaded.autoscale is None:
        raise ScenarioError(f"{scenario}: has no [autoscale] table")
    build = scaled_object_patch if patch else scaled_object
    document = build(loaded.autoscale, loaded.name)
    what = "kustomize patch" if patch else "ScaledObject"
    header = f"# KEDA {what} rendered by `burstlab k8s render --policy {scenario}"
    header += " --patch`\n" if patch else "`\n"
    return dump_documents([document], header)


@k8s.command()
@click.option(
    "--policy",
    "scenario",
    required=True,
    metavar="SCENARIO",
    help="Shipped scenario name or TOML path whose [autoscale] table is rendered.",
)
@click.option("--patch", is_flag=True, help="Print a kustomize patch of the shipped ScaledObject.")
def render(scenario: str, patch: bool) -> None:
    """Print the KEDA ScaledObject of the worker Deployment for SCENARIO's autoscale policy."""
    try:
        click.echo(render_policy(scenario, patch=patch), nl=False)
    except (ScenarioError, PolicyNotRenderable) as exc:
        raise click.ClickException(str(exc)) from exc


@k8s.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=GENERATED_FOLDER,
    show_default=True,
    help="Folder to write the generated manifests to.",
)
def monitoring(out: Path) -> None:
    """Write the PrometheusRule and Grafana ConfigMaps generated from monitoring/."""
    for path in write_generated(out):
        click.echo(f"wrote {path}")
