"""An autoscale policy, read from a scenario's ``[autoscale]`` table, and the HPA's replica formula.

Every field maps one-to-one onto a KEDA ``ScaledObject`` with the Redis list trigger:

- ``min_replicas``, ``max_replicas``: ``spec.minReplicaCount``, ``spec.maxReplicaCount``
- ``target_backlog_per_replica``: the trigger's ``listLength``
- ``activation_backlog``: the trigger's ``activationListLength``
- ``polling_interval_s``: ``spec.pollingInterval``
- ``scale_up_stabilization_s``, ``scale_down_stabilization_s``: the HPA behavior's
  ``stabilizationWindowSeconds`` for scaling up and down
- ``scale_up_max_step``, ``scale_down_max_step``: one ``Pods`` policy each, at most that many
  pods per ``step_period_s`` (``periodSeconds``)

``replica_concurrency`` (worker processes per replica) and ``replica_start_delay_s`` (image pull
and scheduling) describe the replicas; ``metric`` says what the backlog counts: ``"queued"`` is what
KEDA's Redis list scaler reads (the list length), ``"queued+reserved"`` adds the messages workers
hold unacknowledged, which KEDA does not see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from burstlab.scenario.fields import ScenarioError, Table

METRICS = ("queued", "queued+reserved")
MIN_POLLING_INTERVAL_S = 0.5
MAX_WINDOW_S = 3600
"""The HPA's limit on a stabilisation window and on a scaling policy's period."""


@dataclass(frozen=True)
class AutoscalePolicy:
    """How the worker replica count follows the backlog; the defaults are a cautious lab setting."""

    min_replicas: int = 1
    max_replicas: int = 8
    target_backlog_per_replica: int = 20
    activation_backlog: int = 0
    polling_interval_s: float = 5.0
    scale_up_stabilization_s: int = 0
    scale_down_stabilization_s: int = 30
    scale_up_max_step: int = 4
    scale_down_max_step: int = 1
    step_period_s: int = 15
    replica_concurrency: int = 1
    replica_start_delay_s: float = 0.0
    metric: str = "queued"

    def __post_init__(self) -> None:
        if self.min_replicas < 0:
            raise ScenarioError(f"autoscale.min_replicas: must be >= 0, got {self.min_replicas}")
        if self.max_replicas < 1:
            raise ScenarioError(f"autoscale.max_replicas: must be >= 1, got {self.max_replicas}")
        if self.min_replicas > self.max_replicas:
            raise ScenarioError(
                f"autoscale.min_replicas: must be <= max_replicas ({self.max_replicas}), "
                f"got {self.min_replicas}"
            )
        if self.target_backlog_per_replica <= 0:
            raise ScenarioError(
                "autoscale.target_backlog_per_replica: must be > 0, "
                f"got {self.target_backlog_per_replica}"
            )
        if self.polling_interval_s < MIN_POLLING_INTERVAL_S:
            raise ScenarioError(
                f"autoscale.polling_interval_s: must be >= {MIN_POLLING_INTERVAL_S}, "
                f"got {self.polling_interval_s}"
            )
        if self.metric not in METRICS:
            choices = ", ".join(f'"{m}"' for m in METRICS)
            raise ScenarioError(f'autoscale.metric: must be one of {choices}, got "{self.metric}"')

    @property
    def max_workers(self) -> int:
        """Worker processes at ``max_replicas``."""
        return self.max_replicas * self.replica_concurrency


def parse_autoscale(data: object) -> AutoscalePolicy:
    """Build a policy from a parsed ``[autoscale]`` table; ScenarioError names the bad field."""
    defaults = AutoscalePolicy()
    keys = tuple(AutoscalePolicy.__dataclass_fields__)
    table = Table(data, "autoscale", keys)
    low = table.integer("min_replicas", at_least=0, default=defaults.min_replicas)
    high = table.integer("max_replicas", at_least=1, default=max(defaults.max_replicas, low))
    if low > high:
        raise table.fail("min_replicas", f"must be <= max_replicas ({high})")
    polling = table.number(
        "polling_interval_s", at_least=MIN_POLLING_INTERVAL_S, default=defaults.polling_interval_s
    )
    return AutoscalePolicy(
        min_replicas=low,
        max_replicas=high,
        target_backlog_per_replica=table.integer(
            "target_backlog_per_replica", at_least=1, default=defaults.target_backlog_per_replica
        ),
        activation_backlog=table.integer(
            "activation_backlog", at_least=0, default=defaults.activation_backlog
        ),
        polling_interval_s=polling,
        scale_up_stabilization_s=_window(table, "scale_up_stabilization_s", at_least=0),
        scale_down_stabilization_s=_window(table, "scale_down_stabilization_s", at_least=0),
        scale_up_max_step=table.integer(
            "scale_up_max_step", at_least=1, default=defaults.scale_up_max_step
        ),
        scale_down_max_step=table.integer(
            "scale_down_max_step", at_least=1, default=defaults.scale_down_max_step
        ),
        step_period_s=_window(table, "step_period_s", at_least=1),
        replica_concurrency=table.integer(
            "replica_concurrency", at_least=1, default=defaults.replica_concurrency
        ),
        replica_start_delay_s=table.number(
            "replica_start_delay_s", at_least=0, default=defaults.replica_start_delay_s
        ),
        metric=table.choice("metric", METRICS, default=defaults.metric),
    )


def _window(table: Table, key: str, *, at_least: int) -> int:
    default = getattr(AutoscalePolicy(), key)
    value = table.integer(key, at_least=at_least, default=default)
    if value > MAX_WINDOW_S:
        raise table.fail(key, f"must be an integer from {at_least} to {MAX_WINDOW_S}")
    return value


def desired_replicas(policy: AutoscalePolicy, backlog: float) -> int:
    """The replica count the HPA asks for at this backlog, before stabilisation and step limits.

    KEDA's external metric has an ``AverageValue`` target, so the HPA wants
    ``ceil(backlog / target_backlog_per_replica)`` replicas, clamped to [min, max]. Activation only
    decides between zero and one replica: with ``min_replicas = 0`` a backlog at or below
    ``activation_backlog`` scales to zero, and above it at least one replica runs. The HPA's
    10 % tolerance is not modelled.
    """
    if backlog < 0:
        raise ValueError(f"backlog must be >= 0, got {backlog}")
    if policy.min_replicas == 0 and backlog <= policy.activation_backlog:
        return 0
    wanted = math.ceil(backlog / policy.target_backlog_per_replica)
    return max(policy.min_replicas, 1, min(policy.max_replicas, wanted))
