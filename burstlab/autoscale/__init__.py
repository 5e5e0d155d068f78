"""Autoscaling in KEDA/HPA terms: a scenario's policy and the replica count it asks for."""

from burstlab.scenario.autoscale import (
    METRICS,
    AutoscalePolicy,
    desired_replicas,
    parse_autoscale,
)

__all__ = ["METRICS", "AutoscalePolicy", "desired_replicas", "parse_autoscale"]
