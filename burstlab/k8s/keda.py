"""KEDA ScaledObject and TriggerAuthentication for the worker Deployment, from an autoscale policy.

The trigger is KEDA's Redis list scaler on the Celery queue the workers consume: it reads the list
length, which is the policy's ``metric = "queued"``. Redis' address comes from the worker
container's own ``REDIS_HOST`` and ``REDIS_PORT`` (so the external-redis overlay needs no other
ScaledObject), its password from the Secret the pods read it from.
"""

from __future__ import annotations

from typing import Any

from burstlab.jobs.names import QUEUE_NAME
from burstlab.scenario.autoscale import AutoscalePolicy

WORKER_DEPLOYMENT = "worker"
SCALED_OBJECT_NAME = "worker"
TRIGGER_AUTH_NAME = "burstlab-redis"
REDIS_SECRET = "burstlab-redis"
"""The Secret holding Redis' password, created by the user (docs/kubernetes.md)."""
REDIS_SECRET_KEY = "password"
LABELS = {"app.kubernetes.io/name": "worker", "app.kubernetes.io/part-of": "burstlab"}
SCENARIO_ANNOTATION = "burstlab/autoscale-scenario"


class PolicyNotRenderable(ValueError):
    """The policy has no exact KEDA equivalent; the message names the field."""


def _check(policy: AutoscalePolicy) -> None:
    if policy.metric != "queued":
        raise PolicyNotRenderable(
            f'autoscale.metric: KEDA\'s Redis list scaler reads only the list length ("queued"), '
            f'got "{policy.metric}"'
        )
    if policy.polling_interval_s != int(policy.polling_interval_s):
        raise PolicyNotRenderable(
            "autoscale.polling_interval_s: KEDA's pollingInterval is whole seconds, "
            f"got {policy.polling_interval_s:g}"
        )


def _spec(policy: AutoscalePolicy) -> dict[str, Any]:
    """The policy's part of the ScaledObject spec: everything but the target."""
    spec: dict[str, Any] = {
        "pollingInterval": int(policy.polling_interval_s),
        "minReplicaCount": policy.min_replicas,
        "maxReplicaCount": policy.max_replicas,
    }
    if policy.min_replicas == 0:
        # Only the last replica waits for the cooldown; above one the HPA's window applies.
        spec["cooldownPeriod"] = policy.scale_down_stabilization_s
    spec["advanced"] = {
        "horizontalPodAutoscalerConfig": {
            "behavior": {
                "scaleUp": _rules(
                    policy.scale_up_stabilization_s, policy.scale_up_max_step, policy.step_period_s
                ),
                "scaleDown": _rules(
                    policy.scale_down_stabilization_s,
                    policy.scale_down_max_step,
                    policy.step_period_s,
                ),
            }
        }
    }
    spec["triggers"] = [
        {
            "type": "redis",
            "metadata": {
                "hostFromEnv": "REDIS_HOST",
                "portFromEnv": "REDIS_PORT",
                "listName": QUEUE_NAME,
                "listLength": str(policy.target_backlog_per_replica),
                "activationListLength": str(policy.activation_backlog),
                "databaseIndex": "0",
                "enableTLS": "false",
            },
            "authenticationRef": {"name": TRIGGER_AUTH_NAME},
        }
    ]
    return spec


def _rules(window_s: int, step: int, period_s: int) -> dict[str, Any]:
    return {
        "stabilizationWindowSeconds": window_s,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": step, "periodSeconds": period_s}],
    }


def scaled_object(policy: AutoscalePolicy, scenario: str) -> dict[str, Any]:
    """The ScaledObject that scales the worker Deployment as ``policy`` says.

    Raises :class:`PolicyNotRenderable` for a policy KEDA cannot express exactly.
    """
    _check(policy)
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": SCALED_OBJECT_NAME,
            "labels": dict(LABELS),
            "annotations": {SCENARIO_ANNOTATION: scenario},
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": WORKER_DEPLOYMENT,
            },
            **_spec(policy),
        },
    }


def scaled_object_patch(policy: AutoscalePolicy, scenario: str) -> dict[str, Any]:
    """A kustomize patch that turns the shipped ScaledObject into the one of ``policy``.

    Lists (triggers, policies) are replaced whole, as a patch of a custom resource does.
    """
    _check(policy)
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": SCALED_OBJECT_NAME, "annotations": {SCENARIO_ANNOTATION: scenario}},
        "spec": {"cooldownPeriod": None, **_spec(policy)},
    }


def trigger_authentication() -> dict[str, Any]:
    """The TriggerAuthentication giving the Redis scaler the password from the Secret."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": TRIGGER_AUTH_NAME, "labels": dict(LABELS)},
        "spec": {
            "secretTargetRef": [
                {"parameter": "password", "name": REDIS_SECRET, "key": REDIS_SECRET_KEY}
            ]
        },
    }
