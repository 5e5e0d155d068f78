"""The ``burstlab`` console script: the lab's commands and the services' own, in one group.

This is the one place that joins them: ``burstlab.cli`` imports no service, and each service
package owns its entry command (``producer.command``, ``sync_baseline.command``,
``workers.command``).
"""

from __future__ import annotations

import click


def command() -> click.Group:
    """The whole ``burstlab`` group: the lab's commands plus every service's."""
    from burstlab.cli.main import main as lab
    from producer.command import producer
    from sync_baseline.command import baseline
    from workers.command import check_worker, task_events, worker

    for service_command in (producer, baseline, worker, check_worker, task_events):
        lab.add_command(service_command)
    return lab


def main() -> None:
    command()()


if __name__ == "__main__":
    main()
