"""What burstlab renders for Kubernetes: the KEDA ScaledObject from a scenario's autoscale policy,
and the monitoring manifests from monitoring/ -- and the committed files are exactly that output."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from k8s_overlays import K8S, ROOT, find, one, overlay, render

from burstlab.autoscale import AutoscalePolicy
from burstlab.cli.k8s import render_policy
from burstlab.cli.main import main
from burstlab.jobs.names import QUEUE_NAME
from burstlab.k8s.keda import (
    PolicyNotRenderable,
    scaled_object,
    scaled_object_patch,
    trigger_authentication,
)
from burstlab.k8s.monitoring import GENERATED_FOLDER, generated_files
from burstlab.scenario.spec import load_scenario

KEDA_FOLDER = K8S / "components" / "keda"


def in_namespace(doc: dict[str, object]) -> dict[str, object]:
    """``doc`` as kustomize renders it into the burstlab namespace."""
    metadata = dict(doc["metadata"])  # type: ignore[call-overload]
    return {**doc, "metadata": {**metadata, "namespace": "burstlab"}}


def test_the_committed_scaled_object_is_the_rendering_of_the_shipped_autoscale_burst_policy() -> (
    None
):
    # Given the ScaledObject committed in the keda component
    committed = (KEDA_FOLDER / "scaledobject.yaml").read_text()
    # Then it is, byte for byte, what `burstlab k8s render --policy autoscale-burst` prints
    result = CliRunner().invoke(main, ["k8s", "render", "--policy", "autoscale-burst"])
    assert result.exit_code == 0, result.output
    assert result.output == committed == render_policy("autoscale-burst")
    # And the keda overlay deploys exactly that object
    policy = load_scenario("autoscale-burst").autoscale
    assert policy is not None
    (deployed,) = find(overlay("keda"), "ScaledObject")
    assert deployed == in_namespace(scaled_object(policy, "autoscale-burst"))


def test_every_policy_field_lands_in_its_keda_or_hpa_field() -> None:
    policy = load_scenario("autoscale-burst").autoscale
    assert policy is not None
    spec = scaled_object(policy, "autoscale-burst")["spec"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listLength"] == str(policy.target_backlog_per_replica)
    assert trigger["metadata"]["activationListLength"] == str(policy.activation_backlog)
    assert trigger["metadata"]["enableTLS"] == "false"
    assert spec["pollingInterval"] == policy.polling_interval_s
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (
        policy.min_replicas,
        policy.max_replicas,
    )
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    for direction, window, step in (
        ("scaleUp", policy.scale_up_stabilization_s, policy.scale_up_max_step),
        ("scaleDown", policy.scale_down_stabilization_s, policy.scale_down_max_step),
    ):
        assert behavior[direction]["stabilizationWindowSeconds"] == window
        assert behavior[direction]["policies"] == [
            {"type": "Pods", "value": step, "periodSeconds": policy.step_period_s}
        ]
    assert "cooldownPeriod" not in spec  # only a policy that scales to zero has one
    to_zero = dataclasses.replace(policy, min_replicas=0)
    assert (
        scaled_object(to_zero, "x")["spec"]["cooldownPeriod"] == policy.scale_down_stabilization_s
    )


def test_the_scaled_object_scales_the_worker_deployment_on_the_queue_it_consumes() -> None:
    # Given the keda overlay
    docs = overlay("keda")
    (scaled,) = find(docs, "ScaledObject")
    target = scaled["spec"]["scaleTargetRef"]
    # Then the target is the worker Deployment, whose replica count the HPA alone sets
    worker = one(docs, "Deployment", target["name"])
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
    assert "replicas" not in worker["spec"]
    # And the trigger reads the list the workers consume, at the address the workers use
    (trigger,) = scaled["spec"]["triggers"]
    container = worker["spec"]["template"]["spec"]["containers"][0]
    (config,) = [one(docs, "ConfigMap", s["configMapRef"]["name"]) for s in container["envFrom"]]
    assert trigger["metadata"]["listName"] == config["data"]["QUEUE_NAME"] == QUEUE_NAME
    assert trigger["metadata"]["hostFromEnv"] in config["data"]
    assert trigger["metadata"]["portFromEnv"] in config["data"]
    # And it authenticates with the Secret the workers read the password from
    auth = one(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth == in_namespace(trigger_authentication())


def patched_scaled_object(folder: Path, patch: str) -> dict[str, Any]:
    """The ScaledObject of an overlay of the keda overlay with the kustomize ``patch``."""
    folder.mkdir()
    (folder / "patch.yaml").write_text(patch)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(K8S / "overlays" / "keda", folder)],
        "patches": [{"path": "patch.yaml"}],
    }
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    (scaled,) = find(render(folder), "ScaledObject")
    return scaled


def test_a_rendered_patch_turns_the_shipped_scaled_object_into_another_policys(
    tmp_path: Path,
) -> None:
    # Given another policy, one that scales to zero, rendered as a kustomize patch
    other = AutoscalePolicy(
        min_replicas=0, max_replicas=20, target_backlog_per_replica=5, activation_backlog=2,
        polling_interval_s=1, scale_up_stabilization_s=3, scale_down_stabilization_s=90,
        scale_up_max_step=8, scale_down_max_step=3, step_period_s=10,
    )  # fmt: skip
    # When kustomize patches the keda overlay with it, Then the ScaledObject is that policy's
    patch = yaml.safe_dump(scaled_object_patch(other, "other"))
    patched = patched_scaled_object(tmp_path / "other", patch)
    assert patched == in_namespace(scaled_object(other, "other"))
    # And a policy that keeps a replica leaves no cooldown behind
    kept = dataclasses.replace(other, min_replicas=1)
    patched = patched_scaled_object(
        tmp_path / "kept", yaml.safe_dump(scaled_object_patch(kept, "kept"))
    )
    assert patched == in_namespace(scaled_object(kept, "kept"))
    assert "cooldownPeriod" not in patched["spec"]
    # And the command's patch of the shipped policy gives the shipped ScaledObject
    result = CliRunner().invoke(main, ["k8s", "render", "--policy", "autoscale-burst", "--patch"])
    assert result.exit_code == 0, result.output
    shipped = yaml.safe_load((KEDA_FOLDER / "scaledobject.yaml").read_text())
    assert patched_scaled_object(tmp_path / "shipped", result.output) == in_namespace(shipped)


def test_a_policy_keda_cannot_express_is_refused_with_the_field_named(tmp_path: Path) -> None:
    policy = AutoscalePolicy()
    with pytest.raises(PolicyNotRenderable, match=r"autoscale\.metric: .*list length"):
        scaled_object(dataclasses.replace(policy, metric="queued+reserved"), "x")
    with pytest.raises(PolicyNotRenderable, match=r"autoscale\.polling_interval_s: .*whole"):
        scaled_object_patch(dataclasses.replace(policy, polling_interval_s=2.5), "x")
    # And the command says why, for a scenario without a policy too
    result = CliRunner().invoke(main, ["k8s", "render", "--policy", "burst"])
    assert result.exit_code != 0 and "has no [autoscale] table" in result.output
    scenario = tmp_path / "s.toml"
    source = (ROOT / "burstlab/scenario/builtin/autoscale-burst.toml").read_text()
    scenario.write_text(source.replace('metric = "queued"', 'metric = "queued+reserved"'))
    result = CliRunner().invoke(main, ["k8s", "render", "--policy", str(scenario), "--patch"])
    assert result.exit_code != 0 and "autoscale.metric" in result.output


def test_the_committed_monitoring_manifests_are_what_the_generator_writes_from_monitoring() -> None:
    # Given the generated folder of the monitoring component
    folder = ROOT / GENERATED_FOLDER
    expected = {generated.name: generated.text for generated in generated_files()}
    # Then it holds exactly the generator's files, unchanged (else: run `burstlab k8s monitoring`)
    assert {path.name for path in folder.iterdir()} == set(expected)
    for name, text in expected.items():
        assert (folder / name).read_text() == text, (
            f"{name} is stale: run `burstlab k8s monitoring`"
        )


def test_the_monitoring_command_writes_the_files_where_asked(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["k8s", "monitoring", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = {path.name: path.read_text() for path in (tmp_path / "out").iterdir()}
    assert written == {generated.name: generated.text for generated in generated_files()}


def test_grafana_finds_the_datasource_uid_every_dashboard_panel_names() -> None:
    docs = overlay("monitoring")
    (source,) = [
        yaml.safe_load(text)
        for m in find(docs, "ConfigMap")
        if m["metadata"].get("labels", {}).get("grafana_datasource") == "1"
        for text in m["data"].values()
    ]
    uids = {d["uid"] for d in source["datasources"]}
    dashboards = "".join(
        text
        for m in find(docs, "ConfigMap")
        if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
        for text in m["data"].values()
    )
    assert uids == {"burstlab-prometheus"} and '"uid": "burstlab-prometheus"' in dashboards
