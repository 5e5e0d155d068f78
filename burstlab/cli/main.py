"""The lab's ``burstlab`` group: thin wrappers around library functions that tests call too.

The services' commands join it in ``burstlab.__main__``; this package imports no service.
"""

from __future__ import annotations

import click

from burstlab.cli.compose import compose
from burstlab.cli.demo import demo
from burstlab.cli.faults import faults
from burstlab.cli.health import check
from burstlab.cli.k8s import k8s
from burstlab.cli.monitor import monitor
from burstlab.cli.plan import plan
from burstlab.cli.run import compare, merge, run
from burstlab.cli.stack import stack


@click.group()
@click.version_option(package_name="burstlab")
def main() -> None:
    """burstlab: sync vs async under burst load, measured."""


@main.command()
def versions() -> None:
    """Print the versions of the libraries burstlab measures (what reports record)."""
    from burstlab.telemetry.environment import versions as installed

    for name, version in installed().items():
        click.echo(f"{name}=={version}")


main.add_command(stack)
main.add_command(demo)
main.add_command(run)
main.add_command(compare)
main.add_command(merge)
main.add_command(plan)
main.add_command(check)
main.add_command(monitor)
main.add_command(faults)
main.add_command(k8s)
main.add_command(compose)
